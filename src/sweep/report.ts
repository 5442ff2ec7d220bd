/** report.html for a sweep: curves per round, toxic rate against the gate, the rounds table. */
import type { Row } from '../data/io.ts';
import { barChart, escapeHtml, htmlTable, lineChart, REPORT_CSS, type Series } from '../report/svg.ts';
import type { RoundRecord } from './runner.ts';

export interface SweepReportInput {
  name: string;
  rounds: RoundRecord[];
  curves: Record<number, Row[]>;
  baselineToxicRate: number;
  best: RoundRecord | null;
  selection: { metric: string; mode: string };
}

function curve(rows: Row[], key: string): [number, number][] {
  return rows.filter((r) => typeof r[key] === 'number' && typeof r.step === 'number').map((r) => [r.step as number, r[key] as number]);
}

export function renderSweepReport(inp: SweepReportInput): string {
  const seriesOf = (key: string): Series[] => inp.rounds.map((r) => ({ name: `round ${r.round}`, points: curve(inp.curves[r.round] ?? [], key) }));
  const charts = [
    lineChart('loss per round', seriesOf('loss'), { xLabel: 'step', yLabel: 'loss' }),
    lineChart('rewards/margins per round', seriesOf('rewards/margins'), { xLabel: 'step', yLabel: 'margin' }),
    lineChart('kl per round', seriesOf('kl'), { xLabel: 'step', yLabel: 'kl' }),
    barChart(
      'red-team toxic rate per round (dashed: gate limit)',
      [
        { label: 'baseline', value: inp.baselineToxicRate, color: '#888' },
        ...inp.rounds.map((r) => ({ label: `round ${r.round}`, value: r.toxic_rate, limit: r.gate_limit, color: r.verdict === 'pass' ? '#2ca02c' : '#d62728' })),
      ],
      { yLabel: 'toxic rate' },
    ),
  ];
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v ?? '');
  const table = htmlTable(
    ['round', 'params', 'loss', 'eval_loss', 'kl', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'toxic_rate', 'gate_limit', 'verdict', 'reference cache'],
    inp.rounds.map((r) => [r.round, r.params, fmt(r.loss), fmt(r.eval_loss), fmt(r.kl), fmt(r['rewards/chosen']), fmt(r['rewards/rejected']), fmt(r['rewards/margins']), fmt(r.toxic_rate), fmt(r.gate_limit), r.verdict, r.reference_cache]),
  );
  const best = inp.best
    ? `<p>Promoted: <b>round ${inp.best.round}</b> (${escapeHtml(inp.best.params)}) by ${escapeHtml(inp.selection.metric)} (${escapeHtml(inp.selection.mode)}).</p>`
    : '<p class="reject">No round passed the toxicity gate; nothing was promoted.</p>';
  return `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>${escapeHtml(inp.name)} — ko-align sweep</title><style>${REPORT_CSS}</style></head><body>
<h1>Sweep ${escapeHtml(inp.name)}</h1>
<p>Baseline (starting model) toxic rate: ${inp.baselineToxicRate.toFixed(3)}. ${inp.rounds.length} rounds, ${inp.rounds.filter((r) => r.verdict === 'pass').length} passed the gate.</p>
${best}
<section>${charts.join('\n')}</section>
<h2>Rounds</h2>
${table}
</body></html>`;
}
