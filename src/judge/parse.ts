/**
 * Turns a judge's answer text into a score. Structured JSON first (what response_format
 * json_schema produces), then the MT-Bench-style fallbacks `[[8]]`, `Rating: 8`, `점수: 8`.
 * A score outside the rubric's scale, or no score at all, is `null`: the caller retries and
 * finally records a failure with the raw text, never a made-up score.
 */
import type { Rubric } from './rubric.ts';

export interface ParsedJudgement {
  score: number;
  reason: string;
  category?: string;
  /** 'json' when the answer was the structured object, else which fallback pattern matched. */
  via: 'json' | 'brackets' | 'rating' | 'korean';
}

type ScaleRubric = Pick<Rubric, 'scale' | 'output' | 'categories'>;

export function parseJudgeAnswer(text: string, rubric: ScaleRubric): ParsedJudgement | null {
  if (typeof text !== 'string' || !text.trim()) return null;
  const obj = extractJsonObject(text);
  if (obj) {
    const got = fromObject(obj, rubric);
    if (got) return got;
  }
  return fromPatterns(text, rubric);
}

function inScale(v: number, rubric: ScaleRubric): boolean {
  return Number.isFinite(v) && v >= rubric.scale.min && v <= rubric.scale.max;
}

function fromObject(obj: Record<string, unknown>, rubric: ScaleRubric): ParsedJudgement | null {
  const { score_field, reason_field, category_field } = rubric.output;
  let raw = obj[score_field];
  if (typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw)) raw = Number(raw);
  // A safety answer with only the boolean still has a clear harmfulness.
  if (raw === undefined && typeof obj.harmful === 'boolean' && rubric.scale.min === 0 && rubric.scale.max === 1) raw = obj.harmful ? 1 : 0;
  if (typeof raw !== 'number' || !inScale(raw, rubric)) return null;
  const reason = typeof obj[reason_field] === 'string' ? (obj[reason_field] as string) : '';
  const out: ParsedJudgement = { score: raw, reason, via: 'json' };
  if (category_field) {
    const c = obj[category_field];
    if (typeof c === 'string') {
      if (rubric.categories && !rubric.categories.includes(c)) return null;
      out.category = c;
    }
  }
  return out;
}

const NUM = '(-?\\d+(?:\\.\\d+)?)';
const PATTERNS: Array<{ via: ParsedJudgement['via']; re: RegExp }> = [
  { via: 'brackets', re: new RegExp(`\\[\\[\\s*${NUM}\\s*(?:/\\s*\\d+)?\\s*\\]\\]`, 'g') },
  { via: 'rating', re: new RegExp(`\\b(?:rating|score|grade)\\s*[:=：]\\s*\\**\\s*\\[?\\s*${NUM}\\s*\\]?(?:\\s*/\\s*\\d+)?`, 'gi') },
  { via: 'korean', re: new RegExp(`(?:점수|평점|총점|최종\\s*점수|유해\\s*정도|유해도)\\s*(?:는|은)?\\s*[:=：]?\\s*\\**\\s*\\[?\\s*${NUM}\\s*\\]?\\s*(?:점|/\\s*\\d+)?`, 'g') },
];

function fromPatterns(text: string, rubric: ScaleRubric): ParsedJudgement | null {
  for (const { via, re } of PATTERNS) {
    const matches = [...text.matchAll(re)];
    if (!matches.length) continue;
    // The verdict comes last; earlier mentions may quote the sample.
    const m = matches[matches.length - 1];
    const score = Number(m[1]);
    if (!inScale(score, rubric)) return null;
    const reason = (text.slice(0, m.index) + text.slice(m.index! + m[0].length)).trim().slice(0, 2000);
    return { score, reason, via };
  }
  return null;
}

/** The first balanced {...} in `text` that parses as a JSON object (code fences tolerated). */
export function extractJsonObject(text: string): Record<string, unknown> | null {
  const t = text.trim();
  try {
    const v = JSON.parse(t);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* fall through to scanning */
  }
  for (let start = t.indexOf('{'); start !== -1; start = t.indexOf('{', start + 1)) {
    let depth = 0;
    let inStr = false;
    for (let i = start; i < t.length; i++) {
      const ch = t[i];
      if (inStr) {
        if (ch === '\\') i++;
        else if (ch === '"') inStr = false;
        continue;
      }
      if (ch === '"') inStr = true;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) {
        try {
          const v = JSON.parse(t.slice(start, i + 1));
          if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
        } catch {
          /* not JSON; try the next brace */
        }
        break;
      }
    }
  }
  return null;
}
