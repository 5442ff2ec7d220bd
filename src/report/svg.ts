/**
 * Inline-SVG charts for the offline HTML reports: no scripts, no network, one file.
 *
 * Layout rules a reviewer can rely on: ticks are nice numbers inside the data range (ticks.ts),
 * step and count axes get integer ticks, axis titles carry units, the legend sits in its own
 * column right of the plot (never over a line) and lists only series that have points, every
 * point has a hover tooltip (an SVG <title>), and every chart's numbers are one click away in a
 * <details> table. Every label is escaped: series names come from configs and datasets.
 */
import { niceTicks } from './ticks.ts';

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Series {
  name: string;
  points: [number, number][];
}

export interface Axis {
  /** What is measured, e.g. "loss". */
  label: string;
  /** Its unit, e.g. "nats/token"; shown as "loss (nats/token)". */
  unit?: string;
  /** Integer ticks only (optimizer steps, row counts). */
  integer?: boolean;
}

export interface LineChart {
  kind: 'line';
  title: string;
  series: Series[];
  x: Axis;
  y: Axis;
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
  /** A dashed reference line over this bar (e.g. the gate limit). */
  limit?: number;
  /** A word for the table and the legend (e.g. "pass"). */
  note?: string;
}

export interface BarChart {
  kind: 'bar';
  title: string;
  bars: Bar[];
  x: Axis;
  y: Axis;
  /** Column title of the bars' notes in the table (e.g. "verdict"). */
  noteName?: string;
  /** Column title of the limits (e.g. "gate limit"). */
  limitName?: string;
  /** Legend entries for the bar colours, by note (e.g. { pass: '#2ca02c' }). */
  legend?: { label: string; color: string }[];
}

export type Chart = LineChart | BarChart;

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/**
 * Numbers in tables and tooltips: integers as they are, others to `digits` significant digits,
 * in e-notation below 10^-4 (-4.06901e-6, not -0.00000406901).
 */
export function num(v: unknown, digits = 6): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '';
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) < 1e-4) return v.toExponential(digits - 1).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(Number(v.toPrecision(digits)));
}

export function axisTitle(a: Axis): string {
  return a.unit ? `${a.label} (${a.unit})` : a.label;
}

/** Rough rendered width of a label (Hangul and CJK are about square, Latin about 0.6 em). */
export function textWidth(s: string, size: number): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af\u3000-\u9fff\uff00-\uffef]/.test(ch) ? size : size * 0.62;
  return w;
}

/** Series that have at least one finite point; only these are drawn, listed and tabulated. */
export function presentSeries(series: Series[]): Series[] {
  return series
    .map((s) => ({ name: s.name, points: s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])) }))
    .filter((s) => s.points.length > 0);
}

/** The geometry shared by both chart kinds: plot box left, legend column right of it. */
export interface Layout {
  width: number;
  height: number;
  plot: { x: number; y: number; w: number; h: number };
  legend: { x: number; y: number; w: number; h: number } | null;
}

const FONT = 11;
const LEGEND_ROW = 16;
const SWATCH = 18;

export function layoutChart(legendLabels: string[], opts: { plotW?: number; plotH?: number; bottom?: number } = {}): Layout {
  const L = 64, T = 14, R = 12;
  const B = opts.bottom ?? 44;
  const plotW = opts.plotW ?? 360;
  const plotH0 = opts.plotH ?? 190;
  const legendW = legendLabels.length ? Math.ceil(SWATCH + 6 + Math.max(...legendLabels.map((l) => textWidth(l, FONT)))) + 8 : 0;
  const legendH = legendLabels.length * LEGEND_ROW + 8;
  const plotH = Math.max(plotH0, legendH);
  const plot = { x: L, y: T, w: plotW, h: plotH };
  const legend = legendLabels.length ? { x: L + plotW + 16, y: T, w: legendW, h: legendH } : null;
  return { width: L + plotW + (legend ? 16 + legendW : 0) + R, height: T + plotH + B, plot, legend };
}

function legendSvg(lay: Layout, items: { label: string; color: string; dashed?: boolean; box?: boolean }[]): string {
  if (!lay.legend || items.length === 0) return '';
  const { x, y } = lay.legend;
  const rows = items.map((it, i) => {
    const cy = y + 4 + i * LEGEND_ROW + LEGEND_ROW / 2;
    const sw = it.box
      ? `<rect x="${x + 4}" y="${cy - 5}" width="${SWATCH - 6}" height="10" fill="${it.color}"/>`
      : `<line x1="${x + 2}" x2="${x + SWATCH}" y1="${cy}" y2="${cy}" stroke="${it.color}" stroke-width="2"${it.dashed ? ' stroke-dasharray="4 3"' : ''}/>`;
    return `${sw}<text x="${x + SWATCH + 6}" y="${cy + 4}" font-size="${FONT}">${escapeHtml(it.label)}</text>`;
  });
  return `<g class="legend"><rect class="legend-box" x="${x}" y="${y}" width="${lay.legend.w}" height="${lay.legend.h}" fill="#fff" stroke="#ddd"/>${rows.join('')}</g>`;
}

function axisTitles(lay: Layout, x: Axis | null, y: Axis): string {
  const { plot } = lay;
  const parts: string[] = [];
  if (x) parts.push(`<text class="axis-title x" x="${plot.x + plot.w / 2}" y="${lay.height - 6}" font-size="${FONT}" text-anchor="middle">${escapeHtml(axisTitle(x))}</text>`);
  const cy = plot.y + plot.h / 2;
  parts.push(`<text class="axis-title y" x="14" y="${cy}" font-size="${FONT}" text-anchor="middle" transform="rotate(-90 14 ${cy})">${escapeHtml(axisTitle(y))}</text>`);
  return parts.join('');
}

function yTicksSvg(lay: Layout, lo: number, hi: number, sy: (v: number) => number, integer: boolean): string {
  const t = niceTicks(lo, hi, { integer, maxTicks: 6 });
  const { plot } = lay;
  return t.values
    .map((v, i) => {
      const y = sy(v).toFixed(1);
      return `<line class="grid" x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#eee"/>` +
        `<text class="tick y" data-value="${v}" x="${plot.x - 5}" y="${(sy(v) + 3.5).toFixed(1)}" font-size="10" text-anchor="end">${t.labels[i]}</text>`;
    })
    .join('');
}

/** [lo, hi] of the values, widened by `pad` of the range (or around a single value). */
function domain(lo: number, hi: number, pad: number): [number, number] {
  if (lo === hi) {
    const d = Math.abs(lo) * 0.1 || 1;
    return [lo - d, hi + d];
  }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

function svgOpen(lay: Layout, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${lay.width}" height="${lay.height}" viewBox="0 0 ${lay.width} ${lay.height}" role="img" aria-label="${escapeHtml(title)}" font-family="system-ui, sans-serif">`;
}

export function lineChartSvg(c: LineChart): string {
  const series = presentSeries(c.series);
  if (series.length === 0) return '<p class="muted">(no data)</p>';
  const colors = new Map(c.series.map((s, i) => [s.name, PALETTE[i % PALETTE.length]]));
  const lay = layoutChart(series.map((s) => s.name));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const [xLo, xHi] = [Math.min(...xs), Math.max(...xs)];
  const [yLo, yHi] = [Math.min(...ys), Math.max(...ys)];
  const [x0, x1] = domain(xLo, xHi, 0.03);
  const [y0, y1] = domain(yLo, yHi, 0.06);
  const { plot } = lay;
  const sx = (x: number) => plot.x + ((x - x0) / (x1 - x0)) * plot.w;
  const sy = (y: number) => plot.y + plot.h - ((y - y0) / (y1 - y0)) * plot.h;
  const parts: string[] = [svgOpen(lay, c.title)];
  parts.push(`<rect class="frame" x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="#fff" stroke="#ccc"/>`);
  parts.push(yTicksSvg(lay, yLo, yHi, sy, c.y.integer ?? false));
  const xt = niceTicks(xLo, xHi, { integer: c.x.integer ?? false, maxTicks: 7 });
  xt.values.forEach((v, i) => {
    const x = sx(v).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 4}" stroke="#999"/>`);
    parts.push(`<text class="tick x" data-value="${v}" x="${x}" y="${plot.y + plot.h + 16}" font-size="10" text-anchor="middle">${xt.labels[i]}</text>`);
  });
  for (const s of series) {
    const color = colors.get(s.name)!;
    const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<path class="series" data-series="${escapeHtml(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="1.6"/>`);
    // Hover values: a tooltip per point (shown by every browser, no script needed).
    const visible = s.points.length === 1;
    for (const p of s.points) {
      parts.push(`<circle class="pt" cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="${visible ? 3 : 3.5}" fill="${color}" fill-opacity="${visible ? 1 : 0}"><title>${escapeHtml(`${s.name} · ${c.x.label} ${num(p[0])}: ${c.y.label} ${num(p[1])}`)}</title></circle>`);
    }
  }
  parts.push(legendSvg(lay, series.map((s) => ({ label: s.name, color: colors.get(s.name)! }))));
  parts.push(axisTitles(lay, c.x, c.y));
  parts.push('</svg>');
  return parts.join('');
}

export function barChartSvg(c: BarChart): string {
  if (c.bars.length === 0) return '<p class="muted">(no data)</p>';
  const hasLimit = c.bars.some((b) => b.limit !== undefined);
  const legendItems = [...(c.legend ?? []).map((l) => ({ ...l, box: true })), ...(hasLimit ? [{ label: c.limitName ?? 'limit', color: '#000', dashed: true }] : [])];
  const lay = layoutChart(legendItems.map((l) => l.label));
  const { plot } = lay;
  const values = c.bars.flatMap((b) => [b.value, ...(b.limit !== undefined ? [b.limit] : [])]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const top = hi === lo ? lo + 1 : hi + (hi - lo) * 0.12;
  const sy = (y: number) => plot.y + plot.h - ((y - lo) / (top - lo)) * plot.h;
  const bw = plot.w / c.bars.length;
  const parts: string[] = [svgOpen(lay, c.title)];
  parts.push(`<rect class="frame" x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="#fff" stroke="#ccc"/>`);
  parts.push(yTicksSvg(lay, lo, hi, sy, c.y.integer ?? false));
  c.bars.forEach((b, i) => {
    const x = plot.x + i * bw + bw * 0.15;
    const w = bw * 0.7;
    const y = Math.min(sy(b.value), sy(0));
    const h = Math.abs(sy(0) - sy(b.value));
    const tip = `${b.label}: ${num(b.value)}${b.limit !== undefined ? ` (${c.limitName ?? 'limit'} ${num(b.limit)})` : ''}${b.note ? ` · ${b.note}` : ''}`;
    parts.push(`<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${b.color ?? PALETTE[0]}"><title>${escapeHtml(tip)}</title></rect>`);
    if (b.limit !== undefined) {
      const ly = sy(b.limit).toFixed(1);
      parts.push(`<line class="limit" x1="${(x - bw * 0.08).toFixed(1)}" x2="${(x + w + bw * 0.08).toFixed(1)}" y1="${ly}" y2="${ly}" stroke="#000" stroke-dasharray="4 3"/>`);
    }
    parts.push(`<text class="bar-label" x="${(x + w / 2).toFixed(1)}" y="${plot.y + plot.h + 15}" font-size="10" text-anchor="middle">${escapeHtml(b.label)}</text>`);
    parts.push(`<text class="bar-value" x="${(x + w / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" font-size="10" text-anchor="middle">${escapeHtml(num(b.value, 3))}</text>`);
  });
  parts.push(legendSvg(lay, legendItems));
  parts.push(axisTitles(lay, c.x, c.y));
  parts.push('</svg>');
  return parts.join('');
}

/** A chart's numbers as a table: one row per x value (line) or per bar. */
export function chartTable(c: Chart): { header: string[]; rows: string[][] } {
  if (c.kind === 'line') {
    const series = presentSeries(c.series);
    const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const byX = series.map((s) => new Map(s.points.map((p) => [p[0], p[1]])));
    const unit = c.y.unit ? ` (${c.y.unit})` : '';
    const header = [axisTitle(c.x), ...series.map((s) => (series.length === 1 && s.name === c.y.label ? axisTitle(c.y) : `${s.name}${series.length > 1 ? ` ${c.y.label}` : ''}${unit}`))];
    return { header, rows: xs.map((x) => [num(x), ...byX.map((m) => num(m.get(x)))]) };
  }
  const hasLimit = c.bars.some((b) => b.limit !== undefined);
  const hasNote = c.bars.some((b) => b.note !== undefined);
  const header = [axisTitle(c.x), axisTitle(c.y), ...(hasLimit ? [c.limitName ?? 'limit'] : []), ...(hasNote ? [c.noteName ?? 'note'] : [])];
  return { header, rows: c.bars.map((b) => [b.label, num(b.value), ...(hasLimit ? [num(b.limit)] : []), ...(hasNote ? [b.note ?? ''] : [])]) };
}

/** A figure: title, the SVG, and its numbers in a collapsed table. */
export function chartHtml(c: Chart): string {
  const svg = c.kind === 'line' ? lineChartSvg(c) : barChartSvg(c);
  const t = chartTable(c);
  const details = t.rows.length ? `<details><summary>numbers (${t.rows.length} rows)</summary>${htmlTable(t.header, t.rows)}</details>` : '';
  return `<figure class="chart" data-kind="${c.kind}"><figcaption>${escapeHtml(c.title)}</figcaption>${svg}${details}</figure>`;
}

/** An HTML table; every cell is escaped. */
export function htmlTable(header: string[], rows: unknown[][], opts: { className?: string } = {}): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c ?? '')}</td>`).join('')}</tr>`).join('\n');
  return `<table${opts.className ? ` class="${opts.className}"` : ''}><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

export const REPORT_CSS = `body{font-family:system-ui,'Noto Sans KR','Apple SD Gothic Neo',sans-serif;margin:24px;max-width:1280px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}figure{display:inline-block;vertical-align:top;margin:8px 12px 8px 0}figcaption{font-weight:600;font-size:13px;margin-bottom:4px}
details summary{cursor:pointer;font-size:12px;color:#555}details table{font-size:12px}
svg circle.pt:hover{fill-opacity:1}svg rect.bar:hover{opacity:.8}
td.text{white-space:pre-wrap;max-width:360px;overflow-wrap:anywhere}td.score{white-space:nowrap}tr.turned td{background:#fff1f0}p.change{font-size:13px}
.toxic{color:#cf222e;font-weight:600}.pass{color:#1a7f37;font-weight:600}.reject{color:#cf222e;font-weight:600}.muted{color:#666}`;
