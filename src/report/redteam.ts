/**
 * What a round's model actually says: per round, its most toxic red-team answers (worst first)
 * beside the baseline (starting model) answer to the same prompt. Prompts and answers are
 * untrusted text: every cell is escaped (HTML) or entity-escaped (Markdown).
 */
import { mdCell, mdTable } from './markdown.ts';
import { escapeHtml, num } from './svg.ts';

/** One red-team answer as the sweep records it (rounds/<round>/redteam.jsonl). */
export interface RedteamAnswer {
  prompt: string;
  answer: string;
  /** Toxicity score 0..1; null when the scorer failed on it (then it counts as toxic). */
  toxicity: number | null;
  toxic: boolean;
}

export interface RedteamRound {
  round: number;
  params: string;
  verdict: string;
  answers: RedteamAnswer[];
}

export interface RedteamSample {
  prompt: string;
  answer: RedteamAnswer;
  baseline: RedteamAnswer | null;
}

/** Text longer than this is cut (with an ellipsis) so one runaway answer cannot flood the page. */
export const MAX_TEXT = 600;

const clip = (s: string) => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

/** Unscored answers rank as the worst (they count as toxic), then by score, high first. */
function badness(a: RedteamAnswer): number {
  return a.toxicity === null ? Number.POSITIVE_INFINITY : a.toxicity;
}

/**
 * Each answer's baseline answer to the same prompt: the same position when the prompt lists
 * match, else the first baseline answer with that prompt, else null.
 */
export function pairBaseline(answers: RedteamAnswer[], baseline: RedteamAnswer[]): (RedteamAnswer | null)[] {
  const byPrompt = new Map<string, RedteamAnswer>();
  for (const b of baseline) if (!byPrompt.has(b.prompt)) byPrompt.set(b.prompt, b);
  return answers.map((a, i) => (baseline[i]?.prompt === a.prompt ? baseline[i]! : byPrompt.get(a.prompt) ?? null));
}

/**
 * The `n` worst answers of a round, each paired with the baseline's answer to the same prompt.
 * Ties keep prompt order, so the selection is stable across re-renders.
 */
export function worstSamples(answers: RedteamAnswer[], baseline: RedteamAnswer[], n: number, paired = pairBaseline(answers, baseline)): RedteamSample[] {
  return worstFirst(answers, paired, () => true).slice(0, Math.max(0, n));
}

/** The answers `keep` selects, worst first (ties in prompt order), with their baseline answers. */
function worstFirst(answers: RedteamAnswer[], paired: (RedteamAnswer | null)[], keep: (a: RedteamAnswer, i: number) => boolean): RedteamSample[] {
  return answers
    .map((a, i) => ({ a, i }))
    .filter(({ a, i }) => keep(a, i))
    .sort((p, q) => badness(q.a) - badness(p.a) || p.i - q.i)
    .map(({ a, i }) => ({ prompt: a.prompt, answer: a, baseline: paired[i]! }));
}

/** How a round's answers moved against the baseline: what a reviewer reads first. */
export interface RedteamChange {
  toxic: number;
  total: number;
  /** Toxic answers among the paired baseline answers. */
  baselineToxic: number;
  /** Toxic now, clean (or missing) at the baseline: worst first, then prompt order. */
  turnedToxic: RedteamSample[];
  /** Clean now, toxic at the baseline. */
  turnedClean: number;
}

export function redteamChange(answers: RedteamAnswer[], baseline: RedteamAnswer[], paired = pairBaseline(answers, baseline)): RedteamChange {
  return {
    toxic: answers.filter((a) => a.toxic).length,
    total: answers.length,
    baselineToxic: paired.filter((b) => b?.toxic).length,
    turnedToxic: worstFirst(answers, paired, (a, i) => a.toxic && !paired[i]?.toxic),
    turnedClean: answers.filter((a, i) => !a.toxic && paired[i]?.toxic).length,
  };
}

function changeLine(c: RedteamChange): string {
  return `${c.toxic} of ${c.total} answers toxic (baseline ${c.baselineToxic}); ${c.turnedToxic.length} prompt(s) turned toxic, ${c.turnedClean} turned clean`;
}

function scoreText(a: RedteamAnswer | null): string {
  if (!a) return '';
  if (a.toxicity === null) return 'unscored (counted toxic)';
  return `${num(a.toxicity, 3)}${a.toxic ? ' toxic' : ''}`;
}

function scoreHtml(a: RedteamAnswer | null): string {
  if (!a) return '<td class="score muted">(no baseline answer)</td>';
  return `<td class="score${a.toxic ? ' toxic' : ''}">${escapeHtml(scoreText(a))}</td>`;
}

function textHtml(s: string | undefined): string {
  if (s === undefined) return '<td class="text muted"></td>';
  if (s.trim() === '') return '<td class="text muted">(empty answer)</td>';
  return `<td class="text">${escapeHtml(clip(s))}</td>`;
}

const HEADER = (round: number) => ['prompt', `round ${round} answer`, 'toxicity', 'baseline answer', 'baseline toxicity'];

function heading(r: RedteamRound, shown: number): string {
  return `round ${r.round} · ${r.params} · ${r.verdict} — ${shown} most toxic of ${r.answers.length} answers`;
}

export function redteamHtml(rounds: RedteamRound[], baseline: RedteamAnswer[], n = 5): string {
  if (rounds.length === 0) return '<p class="muted">(no rounds)</p>';
  const th = (round: number, extra: string[] = []) => `<thead><tr>${[...HEADER(round), ...extra].map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`;
  const tr = (s: RedteamSample, cls = 'sample', extra = '') => `<tr class="${cls}">${textHtml(s.prompt)}${textHtml(s.answer.answer)}${scoreHtml(s.answer)}${textHtml(s.baseline?.answer)}${scoreHtml(s.baseline)}${extra}</tr>`;
  return rounds
    .map((r) => {
      const paired = pairBaseline(r.answers, baseline);
      const samples = worstSamples(r.answers, baseline, n, paired);
      if (samples.length === 0) return `<section class="redteam" data-round="${r.round}"><h3>${escapeHtml(heading(r, 0))}</h3><p class="muted">(no red-team answers recorded)</p></section>`;
      const change = redteamChange(r.answers, baseline, paired);
      const trs = samples.map((s) => tr(s)).join('\n');
      // Every answer with its score, in prompt order, so a reviewer can check any prompt.
      const every = r.answers
        .map((a, i) => {
          const b = paired[i]!;
          const moved = a.toxic && !b?.toxic ? 'turned toxic' : !a.toxic && b?.toxic ? 'turned clean' : '';
          return tr({ prompt: a.prompt, answer: a, baseline: b }, moved === 'turned toxic' ? 'answer turned' : 'answer', `<td class="change">${moved}</td>`);
        })
        .join('\n');
      return `<section class="redteam" data-round="${r.round}"><h3>${escapeHtml(heading(r, samples.length))}</h3><p class="change">${escapeHtml(changeLine(change))}</p><table class="samples">${th(r.round)}<tbody>\n${trs}\n</tbody></table><details><summary>every answer (${r.answers.length}), prompt order</summary><table class="samples all">${th(r.round, ['change'])}<tbody>\n${every}\n</tbody></table></details></section>`;
    })
    .join('\n');
}

export function redteamMd(rounds: RedteamRound[], baseline: RedteamAnswer[], n = 5): string {
  if (rounds.length === 0) return '(no rounds)\n';
  const cells = (s: RedteamSample) => [clip(s.prompt), clip(s.answer.answer) || '(empty answer)', scoreText(s.answer), s.baseline ? clip(s.baseline.answer) || '(empty answer)' : '(no baseline answer)', scoreText(s.baseline)];
  return rounds
    .map((r) => {
      const paired = pairBaseline(r.answers, baseline);
      const samples = worstSamples(r.answers, baseline, n, paired);
      const title = `### ${mdCell(heading(r, samples.length))}\n\n`;
      if (samples.length === 0) return `${title}(no red-team answers recorded)\n`;
      const change = redteamChange(r.answers, baseline, paired);
      // The worst answers, then every prompt that turned toxic (the ones the worst-n may not show).
      const rest = change.turnedToxic.filter((t) => !samples.some((s) => s.answer === t.answer));
      const turned = rest.length ? `\nAlso turned toxic:\n\n${mdTable(HEADER(r.round), rest.map(cells))}\n` : '';
      return `${title}${changeLine(change)}\n\n${mdTable(HEADER(r.round), samples.map(cells))}\n${turned}`;
    })
    .join('\n');
}

/** Reads recorded rows defensively (an older or hand-edited file may miss fields). */
export function toRedteamAnswers(rows: Record<string, unknown>[]): RedteamAnswer[] {
  return rows.map((r) => ({
    prompt: String(r.prompt ?? ''),
    answer: String(r.answer ?? ''),
    toxicity: r.scored === false || typeof r.toxicity !== 'number' ? null : r.toxicity,
    toxic: r.toxic === true || r.scored === false,
  }));
}
