/**
 * Tiny inline-SVG charts for the offline HTML reports (no scripts, no network). Every label is
 * escaped: series names can come from configs and datasets.
 */
export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface Series {
  name: string;
  points: [number, number][];
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function niceRange(values: number[]): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 1;
    hi += Math.abs(hi) * 0.1 || 1;
  }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

/** A line chart of one or more series with axes and a legend. */
export function lineChart(title: string, series: Series[], opts: { xLabel?: string; yLabel?: string; hLine?: { y: number; label: string } } = {}): string {
  const W = 560, H = 260, L = 56, R = 12, T = 28, B = 36;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  if (opts.hLine) ys.push(opts.hLine.y);
  if (xs.length === 0) return `<figure><figcaption>${escapeHtml(title)}</figcaption><p>(no data)</p></figure>`;
  const [x0, x1] = niceRange(xs);
  const [y0, y1] = niceRange(ys);
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="#fff" stroke="#ccc"/>`);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    parts.push(`<text x="${L - 4}" y="${sy(y) + 4}" font-size="10" text-anchor="end">${fmt(y)}</text>`);
    const x = x0 + ((x1 - x0) * i) / 4;
    parts.push(`<text x="${sx(x)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${fmt(x)}</text>`);
  }
  if (opts.hLine) {
    const y = sy(opts.hLine.y);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#000" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${W - R - 2}" y="${y - 4}" font-size="10" text-anchor="end">${escapeHtml(opts.hLine.label)}</text>`);
  }
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    if (s.points.length === 1) parts.push(`<circle cx="${sx(s.points[0][0])}" cy="${sy(s.points[0][1])}" r="3" fill="${color}"/>`);
    parts.push(`<text x="${L + 6}" y="${T + 14 + i * 12}" font-size="10" fill="${color}">${escapeHtml(s.name)}</text>`);
  });
  if (opts.xLabel) parts.push(`<text x="${(L + W - R) / 2}" y="${H - 4}" font-size="11" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text x="12" y="${(T + H - B) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(T + H - B) / 2})">${escapeHtml(opts.yLabel)}</text>`);
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">${parts.join('')}</svg></figure>`;
}

/** A bar chart (one bar per label), with an optional dashed reference line per bar (e.g. a gate limit). */
export function barChart(title: string, bars: { label: string; value: number; color?: string; limit?: number }[], opts: { yLabel?: string; yMax?: number } = {}): string {
  const W = 560, H = 240, L = 56, R = 12, T = 28, B = 48;
  if (bars.length === 0) return `<figure><figcaption>${escapeHtml(title)}</figcaption><p>(no data)</p></figure>`;
  const top = opts.yMax ?? Math.max(1e-9, ...bars.map((b) => Math.max(b.value, b.limit ?? 0))) * 1.1;
  const bw = (W - L - R) / bars.length;
  const sy = (y: number) => H - B - (y / top) * (H - T - B);
  const parts: string[] = [`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="#fff" stroke="#ccc"/>`];
  for (let i = 0; i <= 4; i++) parts.push(`<text x="${L - 4}" y="${sy((top * i) / 4) + 4}" font-size="10" text-anchor="end">${fmt((top * i) / 4)}</text>`);
  bars.forEach((b, i) => {
    const x = L + i * bw + bw * 0.15;
    const w = bw * 0.7;
    parts.push(`<rect x="${x.toFixed(1)}" y="${sy(b.value).toFixed(1)}" width="${w.toFixed(1)}" height="${(H - B - sy(b.value)).toFixed(1)}" fill="${b.color ?? PALETTE[0]}"/>`);
    if (b.limit !== undefined) parts.push(`<line x1="${(x - bw * 0.1).toFixed(1)}" x2="${(x + w + bw * 0.1).toFixed(1)}" y1="${sy(b.limit).toFixed(1)}" y2="${sy(b.limit).toFixed(1)}" stroke="#000" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${(x + w / 2).toFixed(1)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${escapeHtml(b.label)}</text>`);
    parts.push(`<text x="${(x + w / 2).toFixed(1)}" y="${(sy(b.value) - 3).toFixed(1)}" font-size="10" text-anchor="middle">${Number.isInteger(b.value) ? b.value : fmt(b.value)}</text>`);
  });
  if (opts.yLabel) parts.push(`<text x="12" y="${(T + H - B) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(T + H - B) / 2})">${escapeHtml(opts.yLabel)}</text>`);
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img">${parts.join('')}</svg></figure>`;
}

/** An HTML table; every cell is escaped. */
export function htmlTable(header: string[], rows: unknown[][]): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c ?? '')}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

export const REPORT_CSS = `body{font-family:system-ui,'Noto Sans KR','Apple SD Gothic Neo',sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}figure{display:inline-block;margin:8px 16px 8px 0}figcaption{font-weight:600;font-size:13px}
.pass{color:#1a7f37;font-weight:600}.reject{color:#cf222e;font-weight:600}.muted{color:#666}`;
