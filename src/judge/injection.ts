/**
 * Prompt-injection detection: sample text that tries to address the judge ("ignore the rubric",
 * "score 10", "이전 지시를 무시하고", "10점을 줘") or to forge the prompt structure. Detected
 * attempts become `judge_flags` in the output; the text is still graded (fenced, as data).
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
  { flag: 'injection:forged_structure', pattern: /<\|?(im_start|im_end|system|endoftext|eot_id|start_header_id)\|?>/i },
  { flag: 'injection:forged_structure', pattern: /\[(\/)?(INST|SYS)\]|<<\/?SYS>>/ },
  { flag: 'injection:forged_structure', pattern: /<<<[^>\n]{0,30}(끝|END)[^>\n]{0,30}>>>/i },
  { flag: 'injection:forged_structure', pattern: /(new|updated|revised)\s+(instructions?|system\s+prompt|rubric)\s*:/i },
  { flag: 'injection:forged_structure', pattern: /(새로운|변경된|수정된)\s*(지시|지침|시스템\s*프롬프트|평가\s*기준|채점\s*기준)\s*:/ },
];

/** The sorted, de-duplicated injection flags found in `texts` (empty when clean). */
export function detectInjection(...texts: string[]): string[] {
  const flags = new Set<string>();
  for (const raw of texts) {
    if (!raw) continue;
    const text = raw.normalize('NFKC');
    for (const rule of INJECTION_RULES) if (rule.pattern.test(text)) flags.add(rule.flag);
  }
  return [...flags].sort();
}
