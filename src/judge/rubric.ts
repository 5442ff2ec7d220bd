/**
 * Judge rubrics (judges/*.yaml): a versioned prompt + score scale + output schema, validated with
 * the config schema so a mistyped key is named with a "did you mean" hint. `renderMessages`
 * builds the chat messages with the sample text fenced between random-nonce markers: the sample
 * is data, never instructions, and a sample cannot forge the closing marker it cannot guess.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadConfig, type Schema } from '../config/schema.ts';
import { UserError } from '../util/errors.ts';

export interface RubricAspect {
  name: string;
  description: string;
}

export interface Rubric {
  id: string;
  version: number;
  language: string;
  description?: string;
  /** Which embedded heuristic scores this rubric when no endpoint is configured. */
  heuristic: 'quality' | 'safety';
  scale: { min: number; max: number; integer: boolean };
  aspects: RubricAspect[];
  categories?: string[];
  system: string;
  user: string;
  output: { score_field: string; reason_field: string; category_field?: string; schema: Record<string, unknown> };
  params: { temperature: number; max_tokens: number };
  /** The file it was loaded from. */
  path: string;
}

export const rubricSchema: Schema = {
  id: { type: 'string', help: 'rubric identifier, e.g. quality-ko (part of the cache key and of judge_rubric)' },
  version: { type: 'integer', min: 1, help: 'rubric version; bump it when the prompt or schema changes (part of the cache key)' },
  language: { type: 'string', default: 'ko', help: 'language of the samples this rubric grades' },
  description: { type: 'string', optional: true, help: 'one-line description of what is graded' },
  heuristic: { type: 'string', enum: ['quality', 'safety'], default: 'quality', help: 'embedded heuristic used when no judge endpoint is configured' },
  scale: {
    type: 'object',
    help: 'score scale',
    fields: {
      min: { type: 'number', default: 1, help: 'lowest score' },
      max: { type: 'number', default: 10, help: 'highest score' },
      integer: { type: 'boolean', default: true, help: 'scores must be whole numbers' },
    },
  },
  aspects: {
    type: 'array',
    default: [],
    help: 'graded aspects, listed in the prompt via {{aspects}}',
    items: {
      type: 'object',
      help: 'one aspect',
      fields: {
        name: { type: 'string', help: 'short aspect name' },
        description: { type: 'string', help: 'what the judge checks for this aspect' },
      },
    },
  },
  categories: { type: 'array', optional: true, items: { type: 'string', help: 'category name' }, help: 'allowed values of the category field (safety rubrics)' },
  system: { type: 'string', help: 'system prompt template ({{aspects}}, {{nonce}}, {{scale_min}}, {{scale_max}})' },
  user: { type: 'string', help: 'user prompt template; must contain {{answer}} (and usually {{prompt}}), each replaced by a fenced block' },
  output: {
    type: 'object',
    help: 'structured output',
    fields: {
      score_field: { type: 'string', default: 'score', help: 'JSON field holding the score' },
      reason_field: { type: 'string', default: 'reason', help: 'JSON field holding the explanation' },
      category_field: { type: 'string', optional: true, help: 'JSON field holding a category (becomes judge_category)' },
      schema: { type: 'any', help: 'JSON schema of the answer, sent as response_format json_schema' },
    },
  },
  params: {
    type: 'object',
    help: 'request parameters (part of the cache key)',
    fields: {
      temperature: { type: 'number', default: 0, min: 0, max: 2, help: 'sampling temperature of the judge' },
      max_tokens: { type: 'integer', default: 512, min: 1, help: 'maximum tokens in the judge answer' },
    },
  },
};

/** The repo's judges/ directory (for default rubric paths). */
export const judgesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'judges');
export const defaultRubricPath = join(judgesDir, 'quality-ko.yaml');
export const safetyRubricPath = join(judgesDir, 'safety-ko.yaml');

/** Loads and validates a rubric file; every problem is a UserError naming the file and key. */
export async function loadRubric(path: string): Promise<Rubric> {
  const r = await loadConfig<Omit<Rubric, 'path'>>(path, rubricSchema);
  const rubric = { ...r, path } as Rubric;
  if (!/^[A-Za-z0-9._-]+$/.test(rubric.id)) throw new UserError(`${path}: key 'id' must be letters, digits, '.', '_' or '-', got ${JSON.stringify(rubric.id)}`);
  if (rubric.scale.min >= rubric.scale.max) throw new UserError(`${path}: key 'scale' must have min < max, got ${rubric.scale.min}..${rubric.scale.max}`);
  if (!rubric.user.includes('{{answer}}')) throw new UserError(`${path}: key 'user' must contain the {{answer}} placeholder`);
  const schema = rubric.output.schema;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema) || (schema as { type?: unknown }).type !== 'object') {
    throw new UserError(`${path}: key 'output.schema' must be a JSON schema mapping with type: object`);
  }
  const props = (schema as { properties?: Record<string, unknown> }).properties ?? {};
  for (const k of ['score_field', 'reason_field', 'category_field'] as const) {
    const f = rubric.output[k];
    if (f !== undefined && !(f in props)) throw new UserError(`${path}: key 'output.${k}' names '${f}', which is not a property of output.schema`);
  }
  for (const t of [rubric.system, rubric.user]) {
    for (const m of t.matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g)) {
      if (!PLACEHOLDERS.has(m[1])) throw new UserError(`${path}: unknown template placeholder {{${m[1]}}} (expected one of ${[...PLACEHOLDERS].join(', ')})`);
    }
  }
  return rubric;
}

const PLACEHOLDERS = new Set(['prompt', 'answer', 'aspects', 'nonce', 'scale_min', 'scale_max']);

/** "id@version", the value of judge_rubric. */
export function rubricTag(r: Pick<Rubric, 'id' | 'version'>): string {
  return `${r.id}@${r.version}`;
}

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

/** A fresh random nonce for the fences (one per process is enough; never derived from the sample). */
export function newNonce(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Renders the system and user messages. `{{prompt}}` / `{{answer}}` become fenced blocks; the
 * substitution is a single pass, so placeholders written inside the sample are left as text.
 */
export function renderMessages(rubric: Rubric, sample: { prompt: string; answer: string }, nonce = newNonce()): ChatMessage[] {
  // A sample that happens to contain the nonce would be able to close its own fence: refuse it.
  while (sample.prompt.includes(nonce) || sample.answer.includes(nonce)) nonce = newNonce();
  const aspects = rubric.aspects.map((a) => `- ${a.name}: ${a.description}`).join('\n');
  const vars: Record<string, string> = {
    aspects,
    nonce,
    scale_min: String(rubric.scale.min),
    scale_max: String(rubric.scale.max),
    prompt: fence('질문', nonce, sample.prompt),
    answer: fence('응답', nonce, sample.answer),
  };
  const fill = (t: string) => t.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (m, k: string) => vars[k] ?? m);
  return [
    { role: 'system', content: fill(rubric.system).trim() },
    { role: 'user', content: fill(rubric.user).trim() },
  ];
}

function fence(label: string, nonce: string, text: string): string {
  return `<<<${label}-${nonce}>>>\n${text}\n<<<${label} 끝-${nonce}>>>`;
}
