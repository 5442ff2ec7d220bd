/**
 * report.html for a sweep: curves per round, toxic rate against the gate, the rounds table and
 * each round's most toxic red-team answers beside the baseline's. The chart builders are shared
 * with the pipeline report (runs/<name>/report.html).
 */
import type { Row } from '../data/io.ts';
import { redteamHtml, type RedteamAnswer, type RedteamRound } from '../report/redteam.ts';
import { chartHtml, escapeHtml, htmlTable, num, REPORT_CSS, type BarChart, type LineChart, type Series } from '../report/svg.ts';
import type { RoundRecord } from './runner.ts';

export interface SweepReportInput {
  name: string;
  rounds: RoundRecord[];
  curves: Record<number, Row[]>;
  baselineToxicRate: number;
  best: RoundRecord | null;
  selection: { metric: string; mode: string };
  redteam?: { baseline: RedteamAnswer[]; rounds: Record<number, RedteamAnswer[]> };
}

/** (step, value) points of one metric from metrics.jsonl rows. */
export function metricPoints(rows: Row[], key: string): [number, number][] {
  return rows.filter((r) => typeof r[key] === 'number' && Number.isFinite(r[key]) && typeof r.step === 'number').map((r) => [r.step as number, r[key] as number]);
}

export const STEP_AXIS = { label: 'step', unit: 'optimizer steps', integer: true } as const;

const PASS = '#2ca02c';
const REJECT = '#d62728';
const BASELINE = '#888';

export const roundName = (r: RoundRecord) => `round ${r.round} · ${r.verdict}`;

/** The KTO curves of every round (loss, rewards/margins, kl) and the toxic rate against the gate. */
export function roundCharts(rounds: RoundRecord[], curves: Record<number, Row[]>, baselineToxicRate: number): { loss: LineChart; margins: LineChart; kl: LineChart; toxic: BarChart } {
  const seriesOf = (key: string): Series[] => rounds.map((r) => ({ name: roundName(r), points: metricPoints(curves[r.round] ?? [], key) }));
  const verdicts = new Set(rounds.map((r) => r.verdict));
  return {
    loss: { kind: 'line', title: 'KTO loss per round', series: seriesOf('loss'), x: STEP_AXIS, y: { label: 'loss', unit: 'unitless' } },
    margins: { kind: 'line', title: 'KTO rewards/margins per round', series: seriesOf('rewards/margins'), x: STEP_AXIS, y: { label: 'margin', unit: 'β × nats' } },
    kl: { kind: 'line', title: 'KTO kl per round', series: seriesOf('kl'), x: STEP_AXIS, y: { label: 'kl', unit: 'nats' } },
    toxic: {
      kind: 'bar',
      title: 'red-team toxic rate per round (dashed: gate limit)',
      bars: [
        { label: 'baseline', value: baselineToxicRate, color: BASELINE, note: 'baseline' },
        ...rounds.map((r) => ({ label: `round ${r.round}`, value: r.toxic_rate, limit: r.gate_limit, color: r.verdict === 'pass' ? PASS : REJECT, note: r.verdict })),
      ],
      x: { label: 'model' },
      y: { label: 'toxic rate', unit: 'fraction of prompts' },
      noteName: 'verdict',
      limitName: 'gate limit',
      legend: [
        { label: 'baseline', color: BASELINE },
        ...(verdicts.has('pass') ? [{ label: 'pass', color: PASS }] : []),
        ...(verdicts.has('reject') ? [{ label: 'reject', color: REJECT }] : []),
      ],
    },
  };
}

export function redteamRounds(rounds: RoundRecord[], answers: Record<number, RedteamAnswer[]>): RedteamRound[] {
  return rounds.map((r) => ({ round: r.round, params: r.params, verdict: r.verdict, answers: answers[r.round] ?? [] }));
}

export function renderSweepReport(inp: SweepReportInput): string {
  const c = roundCharts(inp.rounds, inp.curves, inp.baselineToxicRate);
  const table = htmlTable(
    ['round', 'params', 'loss', 'eval_loss', 'kl', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'toxic_rate', 'gate_limit', 'verdict', 'reference cache'],
    inp.rounds.map((r) => [r.round, r.params, num(r.loss, 4), num(r.eval_loss, 4), num(r.kl, 4), num(r['rewards/chosen'], 4), num(r['rewards/rejected'], 4), num(r['rewards/margins'], 4), num(r.toxic_rate, 4), num(r.gate_limit, 4), r.verdict, r.reference_cache]),
  );
  const best = inp.best
    ? `<p>Promoted: <b>round ${inp.best.round}</b> (${escapeHtml(inp.best.params)}) by ${escapeHtml(inp.selection.metric)} (${escapeHtml(inp.selection.mode)}).</p>`
    : '<p class="reject">No round passed the toxicity gate; nothing was promoted.</p>';
  const samples = inp.redteam
    ? `<h2>Red-team answers per round (most toxic first)</h2>\n${redteamHtml(redteamRounds(inp.rounds, inp.redteam.rounds), inp.redteam.baseline)}`
    : '';
  return `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>${escapeHtml(inp.name)} — ko-align sweep</title><style>${REPORT_CSS}</style></head><body>
<h1>Sweep ${escapeHtml(inp.name)}</h1>
<p>Baseline (starting model) toxic rate: ${inp.baselineToxicRate.toFixed(3)}. ${inp.rounds.length} rounds, ${inp.rounds.filter((r) => r.verdict === 'pass').length} passed the gate.</p>
${best}
<section>${[c.loss, c.margins, c.kl, c.toxic].map(chartHtml).join('\n')}</section>
<h2>Rounds</h2>
${table}
${samples}
</body></html>`;
}
