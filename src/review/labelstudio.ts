/**
 * Label Studio: the task list to import (data + the judge's verdict as a prediction), the
 * labeling config that matches it, and a reader for Label Studio's JSON export.
 *
 * Control names (decision / rating / comment) and the data keys are shared by the config and
 * the reader, so an export made here comes back without any mapping.
 */
import type { ReviewItem } from './items.ts';
import { itemId } from './items.ts';
import type { Decision } from './decisions.ts';
import { RATING_MAX, normalizeRating, requireDecision, textOrNull, timeOrNull } from './decisions.ts';
import { UserError } from '../util/errors.ts';

export interface LabelStudioTask {
  data: {
    item_id: string;
    instruction: string;
    answer: string;
    judge_score: number | null;
    judge_verdict: string;
    judge_reason: string;
    judge_summary: string;
  };
  predictions: Array<{
    model_version: string;
    score: number;
    result: Array<{ id: string; from_name: string; to_name: string; type: string; value: Record<string, unknown> }>;
  }>;
}

/** Korean display text for a verdict; the stored value (alias) stays accept / reject. */
export const VERDICT_TEXT = { accept: '수락 (accept)', reject: '거절 (reject)' } as const;

export function verdictText(v: boolean | null): string {
  return v === null ? '판정 없음 (no verdict)' : v ? VERDICT_TEXT.accept : VERDICT_TEXT.reject;
}

export function judgeSummary(it: ReviewItem, threshold: number): string {
  const score = it.judge_score === null ? '없음' : String(it.judge_score);
  const status = it.judge_status && it.judge_status !== 'ok' ? ` · 상태 ${it.judge_status}` : '';
  return `판정 모델 점수 ${score} (기준 ${threshold}) → ${verdictText(it.judge_accept)}${status}`;
}

/** One task per item. The judge's verdict becomes a prediction (pre-annotation) when it has one. */
export function toLabelStudioTasks(items: readonly ReviewItem[], threshold: number): LabelStudioTask[] {
  return items.map((it) => {
    const task: LabelStudioTask = {
      data: {
        item_id: it.id,
        instruction: it.prompt,
        answer: it.answer,
        judge_score: it.judge_score,
        judge_verdict: it.judge_accept === null ? '' : it.judge_accept ? 'accept' : 'reject',
        judge_reason: it.judge_reason ?? '',
        judge_summary: judgeSummary(it, threshold),
      },
      predictions: [],
    };
    if (it.judge_accept !== null && it.judge_score !== null) {
      task.predictions.push({
        model_version: it.judge_model ?? 'judge',
        score: it.judge_score,
        result: [
          {
            id: `judge-${it.id.slice(0, 8)}`,
            from_name: 'decision',
            to_name: 'answer',
            type: 'choices',
            value: { choices: [it.judge_accept ? 'accept' : 'reject'] },
          },
        ],
      });
    }
    return task;
  });
}

/** The labeling config (XML) matching the tasks: accept / reject, a 1-5 rating, a comment. */
export function labelStudioConfig(): string {
  return `<View>
  <Header value="지시문 (instruction)"/>
  <Text name="instruction" value="$instruction"/>
  <Header value="답변 (answer)"/>
  <Text name="answer" value="$answer"/>
  <Header value="판정 모델 (LLM judge)" size="6"/>
  <Text name="judge" value="$judge_summary"/>
  <Text name="judge_reason" value="$judge_reason"/>
  <Header value="판정 (decision)"/>
  <Choices name="decision" toName="answer" choice="single-radio" required="true" showInline="true">
    <Choice value="${VERDICT_TEXT.accept}" alias="accept" hotkey="a"/>
    <Choice value="${VERDICT_TEXT.reject}" alias="reject" hotkey="r"/>
  </Choices>
  <Header value="품질 점수 (quality, 1-${RATING_MAX})"/>
  <Rating name="rating" toName="answer" maxRating="${RATING_MAX}"/>
  <Header value="의견 (comment)"/>
  <TextArea name="comment" toName="answer" rows="3" editable="true" maxSubmissions="1"/>
</View>
`;
}

// ---------------------------------------------------------------------------------------------
// Reading Label Studio's JSON export.

function userName(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object') {
    const u = v as Record<string, unknown>;
    return textOrNull(u.email) ?? textOrNull(u.username) ?? textOrNull(u.id);
  }
  return textOrNull(v);
}

/** True when the parsed JSON looks like a Label Studio export (tasks with data + annotations). */
export function isLabelStudioExport(v: unknown): boolean {
  if (!Array.isArray(v) || v.length === 0) return false;
  const t = v[0] as Record<string, unknown> | null;
  return !!t && typeof t === 'object' && typeof t.data === 'object' && ('annotations' in t || 'completions' in t);
}

/** True for Label Studio's JSON-MIN export: flat objects, the data keys beside the control values. */
export function isLabelStudioMinExport(v: unknown): boolean {
  if (!Array.isArray(v) || v.length === 0) return false;
  const t = v[0] as Record<string, unknown> | null;
  return !!t && typeof t === 'object' && !('data' in t) && 'item_id' in t && ('annotator' in t || 'annotation_id' in t || 'decision' in t);
}

/**
 * A JSON-MIN control value as Label Studio writes it (label_studio_sdk converter/utils.py
 * prettify_result): a single choice or text area line comes as a plain string; every other
 * result as a list of its value dicts without `type`, e.g. a Rating as [{"rating": 4}], two text
 * lines as [{"text": ["가", "나"]}].
 */
function minValue(v: unknown, key: 'rating' | 'choices' | 'text'): unknown {
  if (!Array.isArray(v)) return v;
  const vals = v.map((x) => (x && typeof x === 'object' && !Array.isArray(x) && key in x ? (x as Record<string, unknown>)[key] : x));
  const flat = vals.flatMap((x) => (Array.isArray(x) ? x : [x]));
  return flat.length === 1 ? flat[0] : flat;
}

/** Decisions from a JSON-MIN export: one object per annotation (decision / rating / comment keys). */
export function parseLabelStudioMinExport(v: unknown, file: string): Decision[] {
  if (!Array.isArray(v)) throw new UserError(`${file}: expected a Label Studio JSON-MIN export (an array of objects)`);
  const out: Decision[] = [];
  v.forEach((o, i) => {
    const t = (o ?? {}) as Record<string, unknown>;
    const w = `${file}: item ${i + 1}`;
    let id = textOrNull(t.item_id);
    if (id === null && typeof t.instruction === 'string' && typeof t.answer === 'string') id = itemId(t.instruction, t.answer);
    if (id === null) throw new UserError(`${w}: no item_id and no instruction/answer text to identify the item`);
    const decision = requireDecision(minValue(t.decision, 'choices'), `${w}, decision`);
    const rating = normalizeRating(minValue(t.rating, 'rating'), `${w}, rating`);
    const c = minValue(t.comment, 'text');
    const comment = textOrNull(Array.isArray(c) ? c.join('\n') : c);
    if (decision === null && rating === null && comment === null) return;
    out.push({ id, decision, rating, comment, reviewer: userName(t.annotator), reviewed_at: timeOrNull(t.updated_at ?? t.created_at), source: w });
  });
  return out;
}

/**
 * Decisions from a Label Studio JSON export: one per non-cancelled annotation. The item id is
 * data.item_id, or the content hash of data.instruction / data.answer when the task was
 * created elsewhere.
 */
export function parseLabelStudioExport(v: unknown, file: string): Decision[] {
  if (!Array.isArray(v)) throw new UserError(`${file}: expected a Label Studio JSON export (an array of tasks)`);
  const out: Decision[] = [];
  v.forEach((task, ti) => {
    const where = `${file}: task ${ti + 1}`;
    if (!task || typeof task !== 'object') throw new UserError(`${where}: expected an object`);
    const t = task as Record<string, unknown>;
    const data = (t.data ?? {}) as Record<string, unknown>;
    let id = textOrNull(data.item_id);
    if (id === null) {
      if (typeof data.instruction !== 'string' || typeof data.answer !== 'string') {
        throw new UserError(`${where}: data has no item_id and no instruction/answer text to identify the item`);
      }
      id = itemId(data.instruction, data.answer);
    }
    const anns = (t.annotations ?? t.completions ?? []) as unknown[];
    if (!Array.isArray(anns)) throw new UserError(`${where}: annotations must be an array`);
    anns.forEach((ann, ai) => {
      const a = (ann ?? {}) as Record<string, unknown>;
      if (a.was_cancelled === true) return;
      const w = `${where}, annotation ${textOrNull(a.id) ?? ai + 1}`;
      const result = (a.result ?? []) as unknown[];
      if (!Array.isArray(result)) throw new UserError(`${w}: result must be an array`);
      let decision = null as Decision['decision'];
      let rating: number | null = null;
      let comment: string | null = null;
      for (const r of result) {
        const region = (r ?? {}) as Record<string, unknown>;
        const value = (region.value ?? {}) as Record<string, unknown>;
        const type = String(region.type ?? '').toLowerCase();
        if (type === 'choices' || 'choices' in value) {
          decision = requireDecision(value.choices, `${w}, ${String(region.from_name ?? 'choices')}`);
        } else if (type === 'rating' || 'rating' in value) {
          rating = normalizeRating(value.rating, `${w}, ${String(region.from_name ?? 'rating')}`);
        } else if (type === 'textarea' || 'text' in value) {
          const text = value.text;
          comment = textOrNull(Array.isArray(text) ? text.join('\n') : text);
        }
      }
      if (decision === null && rating === null && comment === null) return;
      out.push({
        id: id!,
        decision,
        rating,
        comment,
        reviewer: userName(a.completed_by),
        reviewed_at: timeOrNull(a.updated_at ?? a.created_at),
        source: w,
      });
    });
  });
  return out;
}
