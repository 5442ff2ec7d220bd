/**
 * Argilla (v2 SDK): records (fields, metadata, suggestions with score and agent) and the
 * dataset settings (fields, questions, guidelines, metadata properties), in the shapes of
 * `Record.to_dict()` / `Settings.serialize()`, so `rg.Settings.from_json(settings.json)` and
 * `dataset.records.log(json.load(records.json))`-style loading work as is. The reader accepts
 * Argilla's record export (responses keyed by question, or the server's list of user
 * responses with `values`) and the flattened Hugging Face form (`decision.responses` columns).
 */
import type { ReviewItem } from './items.ts';
import { itemId } from './items.ts';
import type { Decision } from './decisions.ts';
import { RATING_MAX, normalizeRating, requireDecision, textOrNull, timeOrNull } from './decisions.ts';
import { VERDICT_TEXT } from './labelstudio.ts';
import { UserError } from '../util/errors.ts';

export const ARGILLA_GUIDELINES = `# 한국어 지시문-답변 검수 지침

LLM 판정 모델이 남긴 데이터를 사람이 확인합니다. 각 항목에서:

1. **판정 (decision)**: 답변이 학습 데이터로 쓸 만하면 \`accept\`, 아니면 \`reject\`.
   - 지시를 따르지 않거나, 사실이 틀리거나, 해롭거나, 한국어가 부자연스럽거나, 다른 문자(한자·일본어 등)가 섞인 답변은 거절합니다.
2. **품질 (rating)**: 1(매우 나쁨) ~ ${RATING_MAX}(매우 좋음).
3. **의견 (comment)**: 판단 근거나 고칠 점을 자유롭게 적습니다.

제안(suggestion)으로 보이는 값은 판정 모델의 의견일 뿐입니다. 판정 모델과 다르게 판단해도 됩니다.`;

export interface ArgillaRecord {
  id: string;
  fields: { instruction: string; answer: string };
  metadata: { judge_score?: number; judge_status?: string; judge_model?: string; source_row: number };
  suggestions: Record<string, { value: unknown; score: number | null; agent: string | null }>;
  responses: Record<string, unknown[]>;
  vectors: Record<string, never>;
}

/** Argilla settings (the `Settings.serialize()` shape). */
export function argillaSettings(): Record<string, unknown> {
  return {
    guidelines: ARGILLA_GUIDELINES,
    fields: [
      { name: 'instruction', title: '지시문 (instruction)', required: true, settings: { type: 'text', use_markdown: false } },
      { name: 'answer', title: '답변 (answer)', required: true, settings: { type: 'text', use_markdown: false } },
      { name: 'judge_reason', title: '판정 모델 근거 (judge reason)', required: false, settings: { type: 'text', use_markdown: false } },
    ],
    questions: [
      {
        name: 'decision',
        title: '판정 (decision)',
        description: '학습 데이터로 쓸 만하면 accept, 아니면 reject',
        required: true,
        settings: {
          type: 'label_selection',
          options: [
            { value: 'accept', text: VERDICT_TEXT.accept, description: null },
            { value: 'reject', text: VERDICT_TEXT.reject, description: null },
          ],
          visible_options: null,
        },
      },
      {
        name: 'rating',
        title: `품질 점수 (quality, 1-${RATING_MAX})`,
        description: null,
        required: false,
        settings: { type: 'rating', options: Array.from({ length: RATING_MAX }, (_, i) => ({ value: i + 1 })) },
      },
      {
        name: 'comment',
        title: '의견 (comment)',
        description: null,
        required: false,
        settings: { type: 'text', use_markdown: false },
      },
    ],
    vectors: [],
    metadata: [
      { name: 'judge_score', title: '판정 모델 점수', visible_for_annotators: true, settings: { type: 'float', min: null, max: null } },
      { name: 'judge_status', title: '판정 상태', visible_for_annotators: true, settings: { type: 'terms', values: null } },
      { name: 'judge_model', title: '판정 모델', visible_for_annotators: true, settings: { type: 'terms', values: null } },
      { name: 'source_row', title: '원본 행 번호', visible_for_annotators: false, settings: { type: 'integer', min: null, max: null } },
    ],
    allow_extra_metadata: false,
  };
}

/**
 * What the Argilla server accepts for a suggestion (argilla-server api/schemas/v1/suggestions.py,
 * lines 30-36: AGENT_REGEX ^(?=.*[a-zA-Z0-9])[a-zA-Z0-9-_:\.\/\s]+$, 1-200 characters; score
 * in [0, 1]); anything else is answered with 422 and the whole batch fails.
 */
export function argillaAgent(name: string | null): string {
  const cleaned = (name ?? '').replace(/[^a-zA-Z0-9\-_:./\s]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '').slice(0, 200);
  return /[a-zA-Z0-9]/.test(cleaned) ? cleaned : 'judge';
}

/** The judge score on its rubric scale mapped into Argilla's [0, 1] (clamped). */
export function argillaScore(score: number | null, scale: { min: number; max: number } = DEFAULT_SCALE): number | null {
  if (score === null || !Number.isFinite(score)) return null;
  const x = (score - scale.min) / (scale.max - scale.min);
  return Math.min(1, Math.max(0, x));
}

/** The rubric scale of the bundled judges (judges/quality-ko.yaml, safety-ko.yaml). */
export const DEFAULT_SCALE = { min: 1, max: 10 };

export interface ArgillaExportOptions {
  /** The judge's score scale, for the suggestion score (default 1-10). The raw score stays in metadata.judge_score. */
  scale?: { min: number; max: number };
}

/** One record per item; the judge's verdict is a suggestion (score = the judge's score scaled to [0, 1]). */
export function toArgillaRecords(items: readonly ReviewItem[], opts: ArgillaExportOptions = {}): Array<ArgillaRecord & { fields: Record<string, string> }> {
  return items.map((it) => {
    const metadata: ArgillaRecord['metadata'] = { source_row: it.row };
    if (it.judge_score !== null) metadata.judge_score = it.judge_score;
    if (it.judge_status !== null) metadata.judge_status = it.judge_status;
    if (it.judge_model !== null) metadata.judge_model = it.judge_model;
    const suggestions: ArgillaRecord['suggestions'] = {};
    if (it.judge_accept !== null) {
      suggestions.decision = { value: it.judge_accept ? 'accept' : 'reject', score: argillaScore(it.judge_score, opts.scale), agent: argillaAgent(it.judge_model) };
    }
    const fields: Record<string, string> = { instruction: it.prompt, answer: it.answer };
    if (it.judge_reason) fields.judge_reason = it.judge_reason;
    return { id: it.id, fields: fields as ArgillaRecord['fields'], metadata, suggestions, responses: {}, vectors: {} };
  });
}

// ---------------------------------------------------------------------------------------------
// Reading Argilla responses.

/** True when the parsed JSON looks like Argilla records (fields + responses). */
export function isArgillaExport(v: unknown): boolean {
  const recs = recordsOf(v);
  if (!recs || recs.length === 0) return false;
  const r = recs[0] as Record<string, unknown>;
  return !!r && typeof r === 'object' && ('responses' in r || 'decision.responses' in r) && !('annotations' in r);
}

function recordsOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (v && typeof v === 'object' && Array.isArray((v as Record<string, unknown>).records)) {
    return (v as Record<string, unknown>).records as unknown[];
  }
  return null;
}

interface Answer {
  user: string | null;
  status: string | null;
  at: string | null;
  values: Record<string, unknown>;
}

/** The responses of a record grouped by user, from any of the shapes Argilla writes. */
function answersOf(rec: Record<string, unknown>, where: string): Answer[] {
  const byUser = new Map<string, Answer>();
  const get = (user: string | null, status: string | null, at: string | null): Answer => {
    const key = user ?? '';
    let a = byUser.get(key);
    if (!a) byUser.set(key, (a = { user, status, at, values: {} }));
    if (status && !a.status) a.status = status;
    return a;
  };
  const responses = rec.responses;
  if (Array.isArray(responses)) {
    // Server API shape: [{ user_id, status, values: { question: { value } } }]
    for (const r of responses) {
      const o = (r ?? {}) as Record<string, unknown>;
      const a = get(textOrNull(o.user_id ?? o.user), textOrNull(o.status), timeOrNull(o.updated_at ?? o.inserted_at));
      const values = (o.values ?? {}) as Record<string, unknown>;
      for (const [q, v] of Object.entries(values)) {
        a.values[q] = v && typeof v === 'object' && 'value' in (v as object) ? (v as Record<string, unknown>).value : v;
      }
    }
  } else if (responses && typeof responses === 'object') {
    // Record.to_dict() shape: { question: [{ value, user_id, status? }] }
    for (const [q, list] of Object.entries(responses as Record<string, unknown>)) {
      if (!Array.isArray(list)) throw new UserError(`${where}: responses.${q} must be a list`);
      for (const r of list) {
        const o = (r ?? {}) as Record<string, unknown>;
        const a = get(textOrNull(o.user_id), textOrNull(o.status), timeOrNull(o.updated_at ?? o.inserted_at));
        a.values[q] = o.value;
      }
    }
  }
  // Flattened Hugging Face shape: "decision.responses", "decision.responses.users", ...
  for (const key of Object.keys(rec)) {
    const m = /^(.+)\.responses$/.exec(key);
    if (!m) continue;
    const q = m[1]!;
    const values = rec[key];
    if (!Array.isArray(values)) continue;
    const users = (rec[`${key}.users`] ?? []) as unknown[];
    const statuses = (rec[`${key}.status`] ?? []) as unknown[];
    values.forEach((v, i) => {
      const a = get(textOrNull(users[i]), textOrNull(statuses[i]), null);
      a.values[q] = v;
    });
  }
  return [...byUser.values()];
}

/**
 * Decisions from Argilla records: one per user who submitted a response. A response's status
 * (draft / submitted / discarded) decides: only submitted ones are decisions. Where responses
 * carry no status (Record.to_dict() writes only value and user_id), the record's own status
 * decides: a "pending" record has no submitted response yet, "completed" ones count. The item id
 * is the record id (the export sets it), or the hash of the instruction / answer fields.
 */
export function parseArgillaExport(v: unknown, file: string): Decision[] {
  const recs = recordsOf(v);
  if (!recs) throw new UserError(`${file}: expected Argilla records (a JSON array, or an object with "records")`);
  const out: Decision[] = [];
  recs.forEach((rec, i) => {
    const where = `${file}: record ${i + 1}`;
    if (!rec || typeof rec !== 'object') throw new UserError(`${where}: expected an object`);
    const r = rec as Record<string, unknown>;
    const fields = (r.fields ?? r) as Record<string, unknown>;
    let id = textOrNull(r.id ?? r.external_id);
    if (id === null || !/^[0-9a-f]{16}$/.test(id)) {
      if (typeof fields.instruction === 'string' && typeof fields.answer === 'string') {
        id = itemId(fields.instruction, fields.answer);
      } else if (id === null) {
        throw new UserError(`${where}: no id and no instruction/answer fields to identify the item`);
      }
    }
    const recordStatus = textOrNull(r.status);
    for (const a of answersOf(r, where)) {
      const status = a.status ?? (recordStatus === 'pending' ? 'draft' : null);
      if (status && status !== 'submitted') continue;
      const w = `${where}, user ${a.user ?? '(unknown)'}`;
      const decision = requireDecision(a.values.decision, `${w}, decision`);
      const rating = normalizeRating(a.values.rating, `${w}, rating`);
      const comment = textOrNull(a.values.comment);
      if (decision === null && rating === null && comment === null) continue;
      out.push({ id: id!, decision, rating, comment, reviewer: a.user, reviewed_at: a.at, source: w });
    }
  });
  return out;
}
