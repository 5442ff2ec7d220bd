/**
 * runs/<name>/report.html (one self-contained offline file: inline CSS and SVG, no script) and
 * report.md (the same tables, for terminals and code review). Every chart is built once and
 * rendered twice: drawn with its numbers in a <details> table in HTML, as its table in Markdown.
 */
import { relative } from 'node:path';
import type { Row } from '../data/io.ts';
import type { Manifest } from '../curate/pipeline.ts';
import type { EvalMcResult } from '../eval/score.ts';
import { chartMd, mdTable } from '../report/markdown.ts';
import { redteamHtml, redteamMd } from '../report/redteam.ts';
import { chartHtml, escapeHtml, htmlTable, num as fmtNum, REPORT_CSS, type BarChart, type LineChart } from '../report/svg.ts';
import { metricPoints, redteamRounds, roundCharts, STEP_AXIS } from '../sweep/report.ts';
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

/** Red-team answers shown per round (the most toxic ones). */
export const SAMPLES_PER_ROUND = 5;

const num = (v: unknown, d = 4) => fmtNum(v, d);

function histogram(scores: number[]): { label: string; value: number }[] {
  if (scores.length === 0) return [];
  const lo = Math.floor(Math.min(...scores));
  const hi = Math.ceil(Math.max(...scores));
  const out: { label: string; value: number }[] = [];
  for (let b = lo; b <= hi; b++) out.push({ label: String(b), value: scores.filter((s) => Math.round(s) === b).length });
  return out;
}

/** Every chart of the report, built once: report.html draws them, report.md carries their tables. */
export function reportCharts(x: PipelineReportInput) {
  const rounds = roundCharts(x.sweep.rounds, x.curves, x.sweep.baselineToxicRate);
  const funnel: BarChart = {
    kind: 'bar',
    title: 'rows kept after each curation stage',
    bars: x.manifest.stages.map((s) => ({ label: s.name, value: s.kept })),
    x: { label: 'curation stage' },
    y: { label: 'rows kept', unit: 'count', integer: true },
  };
  const judge: BarChart = {
    kind: 'bar',
    title: `judge score histogram (${x.judgeModel})`,
    bars: histogram(x.judgeScores),
    x: { label: 'judge score', unit: 'rubric points, rounded' },
    y: { label: 'rows', unit: 'count', integer: true },
  };
  const sft: LineChart = {
    kind: 'line',
    title: 'SFT loss',
    // eval_loss is listed only when an eval ran (series without points are left out).
    series: [
      { name: 'loss', points: metricPoints(x.sftMetrics, 'loss') },
      { name: 'eval_loss', points: metricPoints(x.sftMetrics, 'eval_loss') },
    ],
    x: STEP_AXIS,
    y: { label: 'loss', unit: 'nats/token' },
  };
  return { funnel, judge, sft, ktoLoss: rounds.loss, ktoMargin: rounds.margins, ktoKl: rounds.kl, tox: rounds.toxic };
}

export function renderPipelineReport(x: PipelineReportInput): { html: string; md: string } {
  const rel = (p: string) => relative(x.runDir, p) || '.';
  const funnelHeader = ['stage', 'in', 'kept', 'rejected', 'reasons'];
  const funnelRows = x.manifest.stages.map((s) => [s.name, s.in, s.kept, s.rejected, Object.entries(s.reasons).map(([k, v]) => `${k} ${v}`).join(', ')]);
  const roundHeader = ['round', 'params', 'loss', 'rewards/margins', 'kl', 'toxic rate', 'gate limit', 'verdict', 'reference cache'];
  const roundRows = x.sweep.rounds.map((r) => [r.round, r.params, num(r.loss), num(r['rewards/margins']), num(r.kl), num(r.toxic_rate, 3), num(r.gate_limit, 3), r.verdict, r.reference_cache]);
  const evalHeader = ['model', 'task', 'shots', 'n', 'acc', 'acc_norm'];
  const evalRows = x.evals.map((e) => [rel(e.model), e.task, e.shots, e.n, num(e.acc), num(e.acc_norm)]);
  const best = x.sweep.best;
  const promoted = best ? `round ${best.round} (${best.params}) -> ${rel(`${x.runDir}/sweep/best`)}` : 'none: no round passed the toxicity gate';
  const stageRows = Object.entries(x.stages).map(([k, v]) => [k, num(v.seconds, 3), v.finished_at]);
  const c = reportCharts(x);
  const samples = redteamRounds(x.sweep.rounds, x.sweep.redteam?.rounds ?? {});
  const baselineAnswers = x.sweep.redteam?.baseline ?? [];
  const labelsLine = `KTO labels: ${x.labels.desirable} desirable, ${x.labels.undesirable} undesirable (${x.labels.human ?? 0} from human review), ${x.labels.middle ?? 0} between the thresholds left out.`;
  const refLine = `Reference log-probs: cache ${x.reference.status} (key ${x.reference.key}); every round read it. Baseline (SFT model) toxic rate ${num(x.sweep.baselineToxicRate, 3)}.`;
  const samplesIntro = `Per round, the ${SAMPLES_PER_ROUND} red-team answers with the highest toxicity score (worst first), beside the baseline (SFT model) answer to the same prompt. Same prompts, seed and decoding for every model.`;

  const html = `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>${escapeHtml(x.name)} — ko-align run</title><style>${REPORT_CSS}</style></head><body>
<h1>ko-align run: ${escapeHtml(x.name)}</h1>
<p class="muted">config ${escapeHtml(x.configPath)} · ${escapeHtml(new Date().toISOString())} · ${x.seconds.toFixed(1)} s this invocation</p>
<h2>Promoted checkpoint</h2><p>${escapeHtml(promoted)}</p>
<h2>Curation funnel</h2>
<p>${x.manifest.totals.in} rows in, ${x.manifest.totals.kept} kept, ${x.manifest.totals.rejected} rejected.</p>
${chartHtml(c.funnel)}
${htmlTable(funnelHeader, funnelRows)}
<h2>Judge</h2>
${chartHtml(c.judge)}
<p>${escapeHtml(labelsLine)}</p>
${x.reviewFile ? `<p>Review sample: ${escapeHtml(rel(x.reviewFile))}</p>` : ''}
<h2>SFT (NEFTune)</h2>
${chartHtml(c.sft)}
<h2>KTO rounds and the toxicity gate</h2>
<p>${escapeHtml(refLine)}</p>
${[c.ktoLoss, c.ktoMargin, c.ktoKl, c.tox].map(chartHtml).join('\n')}
${htmlTable(roundHeader, roundRows)}
<h2>Red-team answers per round</h2>
<p class="muted">${escapeHtml(samplesIntro)}</p>
${redteamHtml(samples, baselineAnswers, SAMPLES_PER_ROUND)}
<h2>Evaluation</h2>
${evalRows.length ? htmlTable(evalHeader, evalRows) : '<p>(not run)</p>'}
<h2>Stages</h2>
${htmlTable(['stage', 'seconds', 'finished'], stageRows)}
</body></html>`;

  const md = [
    `# ko-align run: ${x.name}`,
    '',
    `Promoted: ${promoted}`,
    '',
    `## Curation funnel (${x.manifest.totals.in} in, ${x.manifest.totals.kept} kept, ${x.manifest.totals.rejected} rejected)`,
    '',
    mdTable(funnelHeader, funnelRows),
    '',
    chartMd(c.funnel),
    '## Judge',
    '',
    chartMd(c.judge),
    labelsLine,
    '',
    '## SFT (NEFTune)',
    '',
    chartMd(c.sft),
    '## KTO rounds and the toxicity gate',
    '',
    refLine,
    '',
    mdTable(roundHeader, roundRows),
    '',
    ...[c.ktoLoss, c.ktoMargin, c.ktoKl, c.tox].map((ch) => chartMd(ch)),
    '## Red-team answers per round',
    '',
    samplesIntro,
    '',
    redteamMd(samples, baselineAnswers, SAMPLES_PER_ROUND),
    '## Evaluation',
    '',
    evalRows.length ? mdTable(evalHeader, evalRows) : '(not run)',
    '',
    '## Stages',
    '',
    mdTable(['stage', 'seconds', 'finished'], stageRows),
    '',
  ].join('\n');
  return { html, md };
}
