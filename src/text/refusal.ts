/**
 * Refusal and boilerplate patterns in Korean and English: the "as an AI language model" family,
 * flat refusals, and apology-only answers. Each pattern has a name so rejections say which one fired.
 */

export interface RefusalPattern {
  name: string;
  re: RegExp;
}

export const REFUSAL_PATTERNS: readonly RefusalPattern[] = [
  { name: 'ai_identity_ko', re: /(?:AI|인공지능|에이아이)\s*(?:언어\s*)?(?:모델|어시스턴트|챗봇|비서)(?:으로서|로서|이기\s*때문에|이므로|라서|인\s*저는|인\s*제가)/i },
  { name: 'ai_identity_ko2', re: /저는\s*(?:AI|인공지능|언어\s*모델|챗봇)(?:이기|이므로|라서|일\s*뿐|이어서)/i },
  { name: 'ai_identity_en', re: /\bas an? (?:AI|artificial intelligence)(?: language)?(?: model| assistant)?\b/i },
  { name: 'ai_identity_en2', re: /\bI(?:'m| am) (?:just )?an? (?:AI|language model)\b/i },
  { name: 'cannot_help_ko', re: /(?:도와|도움을\s*)?(?:드릴|드리기)\s*수\s*없(?:습니다|어요|어서)|답변(?:을|해)?\s*(?:드릴|드리기)\s*(?:수\s*)?(?:없|어렵)|(?:제공|안내)(?:해\s*드릴|할)\s*수\s*없(?:습니다|어요)/ },
  { name: 'cannot_ko', re: /(?:그런|그러한|해당|이러한)\s*(?:요청|질문|정보|내용)(?:에는|에|은|는)?\s*(?:응할|답할|답변할|도움을\s*드릴)\s*수\s*없/ },
  { name: 'sorry_ko', re: /^(?:죄송(?:합니다|해요|하지만)|미안(?:합니다|해요|하지만)|유감(?:스럽게도|이지만))[^\n]{0,80}(?:수\s*없|어렵|불가)/ },
  { name: 'no_realtime_ko', re: /(?:실시간|최신)\s*정보(?:에|를)\s*(?:접근|확인|제공)(?:할|하실)?\s*수\s*(?:없|가\s*없)/ },
  { name: 'no_feelings_ko', re: /(?:감정|의견|개인적인\s*견해)(?:을|를|이)?\s*(?:가지고\s*있지\s*않|갖고\s*있지\s*않|가질\s*수\s*없)/ },
  { name: 'cannot_en', re: /\bI(?:'m| am)? ?(?:sorry,? (?:but )?)?I (?:cannot|can't|can not|won't|am unable to|'m unable to) (?:help|assist|provide|comply|do that|fulfill)/i },
  { name: 'sorry_en', re: /^I(?:'m| am) sorry,? (?:but )?I (?:cannot|can't|am unable)/i },
  { name: 'knowledge_cutoff_en', re: /\bmy (?:knowledge|training data) (?:cutoff|cut-off)\b/i },
];

/** The first refusal/boilerplate pattern found in the text, or null. */
export function findRefusal(text: string, patterns: readonly RefusalPattern[] = REFUSAL_PATTERNS): { name: string; match: string } | null {
  for (const p of patterns) {
    const m = p.re.exec(text);
    if (m) return { name: p.name, match: m[0] };
  }
  return null;
}
