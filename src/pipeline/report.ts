/** runs/<name>/report.html (self-contained, offline) and report.md for terminals. */
import { relative } from 'node:path';
import type { Row } from '../data/io.ts';
import type { Manifest } from '../curate/pipeline.ts';
import type { EvalMcResult } from '../eval/score.ts';
import { barChart, escapeHtml, htmlTable, lineChart, REPORT_CSS, type Series } from '../report/svg.ts';
import type { SweepResult } from '../sweep/runner.ts';

export interface PipelineReportInput {
  name: string;
  configPath: string;
  manifest: Manifest;
  judgeScores: number[];
  judgeModel: string;
  labels: Record<string, number>;
  reviewFile: string | null;
  sftMetrics: Row[];
  reference: { status: string; key: string };
  sweep: SweepResult;
  curves: Record<number, Row[]>;
  evals: EvalMcResult[];
  runDir: string;
  seconds: number;
  stages: Record<string, { seconds: number; finished_at: string }>;
}

const num = (v: unknown, d = 4) => (typeof v === 'number' && Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toPrecision(d)) : '');
const pts = (rows: Row[], key: string): [number, number][] => rows.filter((r) => typeof r[key] === 'number' && typeof r.step === 'number').map((r) => [r.step as number, r[key] as number]);

function histogram(scores: number[]): { label: string; value: number }[] {
  if (scores.length === 0) return [];
  const lo = Math.floor(Math.min(...scores));
  const hi = Math.ceil(Math.max(...scores));
  const out: { label: string; value: number }[] = [];
  for (let b = lo; b <= hi; b++) out.push({ label: String(b), value: scores.filter((s) => Math.round(s) === b).length });
  return out;
}

function mdTable(header: string[], rows: unknown[][]): string {
  const esc = (c: unknown) => String(c ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

export function renderPipelineReport(x: PipelineReportInput): { html: string; md: string } {
  const rel = (p: string) => relative(x.runDir, p) || '.';
  const funnelRows = x.manifest.stages.map((s) => [s.name, s.in, s.kept, s.rejected, Object.entries(s.reasons).map(([k, v]) => `${k} ${v}`).join(', ')]);
  const roundRows = x.sweep.rounds.map((r) => [r.round, r.params, num(r.loss), num(r['rewards/margins']), num(r.kl), num(r.toxic_rate, 3), num(r.gate_limit, 3), r.verdict, r.reference_cache]);
  const evalRows = x.evals.map((e) => [rel(e.model), e.task, e.shots, e.n, num(e.acc), num(e.acc_norm)]);
  const best = x.sweep.best;
  const promoted = best ? `round ${best.round} (${best.params}) -> ${rel(`${x.runDir}/sweep/best`)}` : 'none: no round passed the toxicity gate';
  const stageRows = Object.entries(x.stages).map(([k, v]) => [k, num(v.seconds, 3), v.finished_at]);

  const roundSeries = (key: string): Series[] => x.sweep.rounds.map((r) => ({ name: `round ${r.round}`, points: pts(x.curves[r.round] ?? [], key) }));
  const charts = {
    funnel: barChart('rows kept after each curation stage', x.manifest.stages.map((s) => ({ label: s.name, value: s.kept })), { yLabel: 'rows' }),
    judge: barChart(`judge score histogram (${x.judgeModel})`, histogram(x.judgeScores), { yLabel: 'rows' }),
    sft: lineChart('SFT loss', [{ name: 'loss', points: pts(x.sftMetrics, 'loss') }, { name: 'eval_loss', points: pts(x.sftMetrics, 'eval_loss') }], { xLabel: 'step', yLabel: 'loss' }),
    ktoLoss: lineChart('KTO loss per round', roundSeries('loss'), { xLabel: 'step' }),
    ktoMargin: lineChart('KTO rewards/margins per round', roundSeries('rewards/margins'), { xLabel: 'step' }),
    tox: barChart(
      'red-team toxic rate per round (dashed: gate limit)',
      [{ label: 'baseline', value: x.sweep.baselineToxicRate, color: '#888' }, ...x.sweep.rounds.map((r) => ({ label: `round ${r.round}`, value: r.toxic_rate, limit: r.gate_limit, color: r.verdict === 'pass' ? '#2ca02c' : '#d62728' }))],
      { yLabel: 'toxic rate' },
    ),
  };

  const html = `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>${escapeHtml(x.name)} — ko-align run</title><style>${REPORT_CSS}</style></head><body>
<h1>ko-align run: ${escapeHtml(x.name)}</h1>
<p class="muted">config ${escapeHtml(x.configPath)} · ${escapeHtml(new Date().toISOString())} · ${x.seconds.toFixed(1)} s this invocation</p>
<h2>Promoted checkpoint</h2><p>${escapeHtml(promoted)}</p>
<h2>Curation funnel</h2>
<p>${x.manifest.totals.in} rows in, ${x.manifest.totals.kept} kept, ${x.manifest.totals.rejected} rejected.</p>
${charts.funnel}
${htmlTable(['stage', 'in', 'kept', 'rejected', 'reasons'], funnelRows)}
<h2>Judge</h2>
${charts.judge}
<p>KTO labels: ${escapeHtml(x.labels.desirable)} desirable, ${escapeHtml(x.labels.undesirable)} undesirable (${escapeHtml(x.labels.human ?? 0)} from human review), ${escapeHtml(x.labels.middle ?? 0)} between the thresholds left out.</p>
${x.reviewFile ? `<p>Review sample: ${escapeHtml(rel(x.reviewFile))}</p>` : ''}
<h2>SFT (NEFTune)</h2>
${charts.sft}
<h2>KTO rounds and the toxicity gate</h2>
<p>Reference log-probs: cache ${escapeHtml(x.reference.status)} (key ${escapeHtml(x.reference.key)}); every round read it. Baseline (SFT model) toxic rate ${num(x.sweep.baselineToxicRate, 3)}.</p>
${charts.ktoLoss}${charts.ktoMargin}${charts.tox}
${htmlTable(['round', 'params', 'loss', 'rewards/margins', 'kl', 'toxic rate', 'gate limit', 'verdict', 'reference cache'], roundRows)}
<h2>Evaluation</h2>
${evalRows.length ? htmlTable(['model', 'task', 'shots', 'n', 'acc', 'acc_norm'], evalRows) : '<p>(not run)</p>'}
<h2>Stages</h2>
${htmlTable(['stage', 'seconds', 'finished'], stageRows)}
</body></html>`;

  const md = [
    `# ko-align run: ${x.name}`,
    '',
    `Promoted: ${promoted}`,
    '',
    `## Curation funnel (${x.manifest.totals.in} in, ${x.manifest.totals.kept} kept)`,
    '',
    mdTable(['stage', 'in', 'kept', 'rejected', 'reasons'], funnelRows),
    '',
    `## KTO labels`,
    '',
    `${x.labels.desirable} desirable, ${x.labels.undesirable} undesirable (judge: ${x.judgeModel})`,
    '',
    `## SFT`,
    '',
    `final loss ${num(pts(x.sftMetrics, 'loss').at(-1)?.[1])}`,
    '',
    `## KTO rounds (baseline toxic rate ${num(x.sweep.baselineToxicRate, 3)}; reference cache ${x.reference.status})`,
    '',
    mdTable(['round', 'params', 'loss', 'rewards/margins', 'kl', 'toxic rate', 'gate limit', 'verdict', 'reference cache'], roundRows),
    '',
    '## Evaluation',
    '',
    evalRows.length ? mdTable(['model', 'task', 'shots', 'n', 'acc', 'acc_norm'], evalRows) : '(not run)',
    '',
  ].join('\n');
  return { html, md };
}
