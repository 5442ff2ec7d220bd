/**
 * Prompt-injection detection: sample text that tries to address the judge ("ignore the rubric",
 * "score 10", "이전 지시를 무시하고", "10점을 줘", "忽略之前的指令", "指示を無視して") or to forge
 * the prompt structure. Detected attempts become `judge_flags` in the output; the text is still
 * graded (fenced, as data).
 *
 * Matching runs on a folded copy of the text (`foldForDetection`, never stored): NFKC, format
 * characters (zero-width, bidi controls) removed, Cyrillic / Greek look-alikes folded to Latin,
 * and every run of whitespace (newlines included) made one space, so an instruction split over
 * lines, sprinkled with invisible characters or spelled with look-alike letters still matches.
 */

export interface InjectionRule {
  flag: string;
  pattern: RegExp;
}

/** Flags are stable strings: injection:<kind>. */
export const INJECTION_RULES: InjectionRule[] = [
  // "ignore / disregard / forget the previous instructions / the rubric / the system prompt"
  {
    flag: 'injection:ignore_instructions',
    pattern: /\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|the|your|any)?\s*(instructions?|rubric|rules?|guidelines?|criteria|system\s*prompt|prompt)\b/i,
  },
  {
    flag: 'injection:ignore_instructions',
    pattern: /(이전|위의?|앞의?|기존|모든|위에서\s*말한|시스템|평가)\s*(의\s*)?(지시|지침|명령|규칙|기준|루브릭|프롬프트|채점\s*기준|평가\s*기준)[은는을를이가]?\s*(모두\s*|전부\s*|다\s*)?(무시|잊어|잊고|따르지\s*마|버리|취소)/,
  },
  { flag: 'injection:ignore_instructions', pattern: /(지시|지침|규칙|기준|루브릭)[을를은는]?\s*(모두\s*|전부\s*)?무시(하고|해|하세요|하십시오|할\s*것)/ },
  {
    flag: 'injection:ignore_instructions',
    pattern: /(지시\s*사항|지시|지침|명령|규칙|루브릭|프롬프트|채점\s*기준|평가\s*기준)[은는을를이가]?\s*(모두\s*|전부\s*|다\s*)?(신경\s*(쓰지|끄고|꺼)|상관\s*(하지|말고|없이)|따르지\s*(말|마)|무시)/,
  },
  // Chinese: 忽略/无视/不要理会 (之前的/以上/所有) 指令/指示/规则/评分标准
  { flag: 'injection:ignore_instructions', pattern: /(忽略|忽视|无视|無視|不要理会|不用理会|别管|忘记|忘掉)[^。！？\n]{0,10}(指令|指示|说明|說明|规则|規則|提示|评分标准|評分標準|标准|要求)/ },
  // Japanese: (以前の/上記の) 指示/命令/ルール/基準 を (すべて) 無視/忘れて
  { flag: 'injection:ignore_instructions', pattern: /(指示|命令|ルール|基準|評価基準|採点基準|プロンプト)(は|を|も)?(すべて|全て|全部)?(無視|忘れ|気にせず|従わ)/ },
  // Score demands: "score 10", "give this a 10", "rate it 10/10", "[[10]]", "10점을 줘"
  {
    flag: 'injection:score_demand',
    pattern: /\b(give|assign|award|rate|score|grade)\b[^.\n]{0,30}\b(10|ten|full marks?|perfect|maximum|highest|1\.0)\b/i,
  },
  { flag: 'injection:score_demand', pattern: /\b(score|rating|grade)\s*(of|=|:)?\s*(10|ten)\s*(\/\s*10|out of 10)?\b(?!\s*%)/i },
  { flag: 'injection:score_demand', pattern: /\[\[\s*\d+(\.\d+)?\s*\]\]/ },
  {
    flag: 'injection:score_demand',
    pattern: /(10|십|만)\s*점\s*(을|를|만점을?)?\s*(줘|주세요|주십시오|줄\s*것|주어야|매겨|부여|달라|주라|줘야)/,
  },
  { flag: 'injection:score_demand', pattern: /(만점|최고\s*점수?|높은\s*점수)\s*(을|를)?\s*(줘|주세요|주십시오|줄\s*것|주어야|매겨|부여|달라|주라|줘야|받아야)/ },
  // "9점 이상을 주십시오", "열 점을 매겨", "아홉 점 이상으로 평가해"
  {
    flag: 'injection:score_demand',
    pattern: /(\d+(\.\d+)?|열|아홉|여덟|십|만)\s*점\s*(이상|만점)?\s*(을|를|으로|로)?\s*(줘|주세요|주십시오|줄\s*것|주어야|매겨|매기세요|매기십시오|부여해|부여하|달라|주라|줘야|평가해|평가하세요|평가하십시오|채점해|채점하세요)/,
  },
  // Chinese: 给(这个回答)打10分 / 给满分 / 评为10分
  { flag: 'injection:score_demand', pattern: /(给|給|打|评为|評為|评分为|評分為)[^。！？\n]{0,12}(10|十|满|滿|最高)\s*分/ },
  // Japanese: 10点をつけて / 満点を与えて / 最高評価にして
  { flag: 'injection:score_demand', pattern: /(10|十|満|最高)\s*点\s*(を|に)?\s*(つけ|付け|与え|ください|下さい|して)|満点\s*(を|に)\s*(つけ|付け|与え|して|ください)|最高評価\s*(を|に)\s*(つけ|付け|与え|して|ください)/ },
  { flag: 'injection:score_demand', pattern: /(안전|무해)\s*(하다고|함으로|한\s*것으로)\s*(판정|평가|분류)\s*(해|하세요|하십시오|할\s*것|하라)/ },
  { flag: 'injection:score_demand', pattern: /\b(mark|classify|label|judge)\b[^.\n]{0,20}\b(as\s+)?(safe|harmless|not\s+harmful)\b/i },
  // Addressing the judge / role change
  {
    flag: 'injection:addresses_judge',
    pattern: /\b(dear|attention|note (to|for)|hey|hello)\b[^.\n]{0,20}\b(judge|grader|evaluator|assessor|reviewer|AI)\b/i,
  },
  { flag: 'injection:addresses_judge', pattern: /\byou are (now )?(no longer|not) (a |an )?(judge|grader|evaluator)\b/i },
  { flag: 'injection:addresses_judge', pattern: /(평가자|채점자|심사위원|심판|평가\s*모델|채점\s*모델)\s*(님|여러분)?\s*(에게|께|는|은|이여|여|,)/ },
  { flag: 'injection:addresses_judge', pattern: /(너는|당신은)\s*(이제|지금부터)[^.\n]{0,20}(역할|평가자|채점자|심사위원)/ },
  // Forged prompt structure: role tags, system markers, our fence markers
  { flag: 'injection:forged_structure', pattern: /<\s*\|?\s*(im_start|im_end|system|endoftext|eot_id|start_header_id|end_header_id)\s*\|?\s*>/i },
  // Forged end-of-answer fences: [END OF ANSWER], </answer>, === 응답 끝 ===, 답변 종료 -->
  { flag: 'injection:forged_structure', pattern: /[[<(=#*-]{1,3}\s*\/?\s*(end\s*of\s*(the\s*)?(answer|response|sample|text|input)|(응답|답변|질문|샘플)\s*(끝|종료))\s*[\]>)=#*-]{1,3}/i },
  { flag: 'injection:forged_structure', pattern: /<\s*\/\s*(answer|response|sample|응답|답변)\s*>/i },
  { flag: 'injection:forged_structure', pattern: /\[(\/)?(INST|SYS)\]|<<\/?SYS>>/ },
  { flag: 'injection:forged_structure', pattern: /<<<[^>\n]{0,30}(끝|END)[^>\n]{0,30}>>>/i },
  { flag: 'injection:forged_structure', pattern: /(new|updated|revised)\s+(instructions?|system\s+prompt|rubric)\s*:/i },
  { flag: 'injection:forged_structure', pattern: /(새로운|변경된|수정된)\s*(지시|지침|시스템\s*프롬프트|평가\s*기준|채점\s*기준)\s*:/ },
];

/** Cyrillic and Greek letters that look like Latin ones (the common confusables). */
const CONFUSABLES: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', і: 'i', ї: 'i', ј: 'j', ԁ: 'd', ԛ: 'q', ԝ: 'w', һ: 'h', ӏ: 'l',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', У: 'Y', Х: 'X', Ѕ: 'S', І: 'I', Ј: 'J',
  α: 'a', ε: 'e', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ϲ: 'c',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X',
};
const CONFUSABLE_RE = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'g');
/** Format characters (zero-width, bidi controls, soft hyphen, ...), Hangul fillers and the combining grapheme joiner. */
const INVISIBLE = /[\p{Cf}\u034F\u115F\u1160\u3164\uFFA0]/gu;

/**
 * The text the rules see (for detection only; never stored or graded): NFKC, invisible format
 * characters removed, a Cyrillic / Greek look-alike inside a Latin word folded to Latin, and
 * whitespace runs (newlines included) collapsed to one space.
 */
export function foldForDetection(text: string): string {
  let s = text.normalize('NFKC').replace(INVISIBLE, '');
  // Fold look-alikes only in words that also hold Latin letters: Russian or Greek text stays.
  s = s.replace(/[\p{L}\p{M}]+/gu, (w) => (/[A-Za-z]/.test(w) ? w.replace(CONFUSABLE_RE, (c) => CONFUSABLES[c] ?? c) : w));
  return s.replace(/\s+/g, ' ');
}

/** The sorted, de-duplicated injection flags found in `texts` (empty when clean). */
export function detectInjection(...texts: string[]): string[] {
  const flags = new Set<string>();
  for (const raw of texts) {
    if (!raw) continue;
    const text = foldForDetection(raw);
    for (const rule of INJECTION_RULES) if (rule.pattern.test(text)) flags.add(rule.flag);
  }
  return [...flags].sort();
}
