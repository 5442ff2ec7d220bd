/** Korean text utilities. */
export { nfc, cleanText, simplifyForDedup, type CleanOptions } from './normalize.ts';
export {
  scriptOf, countScripts, hangulRatio, dominantScript, codeSwitch, stripCodeAndUrls,
  type Script, type ScriptCounts, type CodeSwitch, type CodeSwitchOptions,
} from './script.ts';
export {
  duplicateLineFraction, duplicateNgramCharFraction, topNgramCharFraction, longestCharRun, tandemRepeatFraction, words,
} from './repetition.ts';
export { REFUSAL_PATTERNS, findRefusal, type RefusalPattern } from './refusal.ts';
export { findPii, maskPii, luhnValid, rrnChecksumValid, PII_TYPES, type PiiType, type PiiSpan, type PiiOptions } from './pii.ts';
export { charNgrams, jaccard } from './ngrams.ts';
export { MinHasher, LshIndex, estimateJaccard, type MinHashOptions } from './minhash.ts';
