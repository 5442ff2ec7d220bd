import { describe, expect, it } from 'vitest';
import { chartMd, mdCell, mdTable } from '../../src/report/markdown.ts';
import { barChartSvg, chartHtml, chartTable, layoutChart, lineChartSvg, presentSeries, type BarChart, type LineChart } from '../../src/report/svg.ts';

const STEP = { label: 'step', unit: 'optimizer steps', integer: true };

function rounds(n: number): LineChart {
  return {
    kind: 'line',
    title: 'KTO loss per round',
    series: Array.from({ length: n }, (_, r) => ({ name: `round ${r} · pass`, points: [2, 4, 6, 8, 10, 12].map((s) => [s, 0.7 - 0.01 * s * (r + 1)] as [number, number]) })),
    x: STEP,
    y: { label: 'loss', unit: 'unitless' },
  };
}

/** Attributes of every element matching `tag.class` in an SVG string. */
function elements(svg: string, tag: string, cls: string): Record<string, string>[] {
  const re = new RegExp(`<${tag} class="${cls}"([^>]*)>`, 'g');
  return [...svg.matchAll(re)].map((m) => Object.fromEntries([...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
}

function pathBox(d: string) {
  const xy = [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  return { x0: Math.min(...xy.map((p) => p[0])), x1: Math.max(...xy.map((p) => p[0])), y0: Math.min(...xy.map((p) => p[1])), y1: Math.max(...xy.map((p) => p[1])) };
}

describe('chart layout', () => {
  it('puts the legend in its own column right of the plot, for any number of series and label length', () => {
    for (const labels of [['loss'], ['round 0 · pass', 'round 1 · reject'], Array.from({ length: 14 }, (_, i) => `라운드 ${i} · 매우 긴 이름의 시리즈`)]) {
      const lay = layoutChart(labels);
      const { plot, legend } = lay;
      expect(legend).not.toBeNull();
      expect(legend!.x).toBeGreaterThan(plot.x + plot.w);
      expect(legend!.x + legend!.w).toBeLessThanOrEqual(lay.width);
      // Every row fits: the plot grows with the legend instead of the legend spilling over.
      expect(legend!.y + legend!.h).toBeLessThanOrEqual(plot.y + plot.h);
      expect(plot.y + plot.h).toBeLessThan(lay.height);
    }
    expect(layoutChart([]).legend).toBeNull();
  });

  it('draws no line into the legend box', () => {
    const svg = lineChartSvg(rounds(4));
    const box = elements(svg, 'rect', 'legend-box')[0];
    const lx = Number(box.x);
    const paths = elements(svg, 'path', 'series');
    expect(paths).toHaveLength(4);
    for (const p of paths) expect(pathBox(p.d).x1).toBeLessThan(lx);
    const frame = elements(svg, 'rect', 'frame')[0];
    expect(Number(frame.x) + Number(frame.width)).toBeLessThan(lx);
  });

  it('lists and tabulates only series that have points (no eval_loss without an eval)', () => {
    const c: LineChart = { kind: 'line', title: 'SFT loss', series: [{ name: 'loss', points: [[10, 3.2], [20, 2.9]] }, { name: 'eval_loss', points: [] }], x: STEP, y: { label: 'loss', unit: 'nats/token' } };
    const svg = lineChartSvg(c);
    expect(svg).not.toContain('eval_loss');
    expect(presentSeries(c.series).map((s) => s.name)).toEqual(['loss']);
    expect(chartTable(c)).toEqual({ header: ['step (optimizer steps)', 'loss (nats/token)'], rows: [['10', '3.2'], ['20', '2.9']] });
    expect(lineChartSvg({ ...c, series: [{ name: 'eval_loss', points: [] }] })).toContain('(no data)');
  });

  it('labels axes with units and draws ticks that are nice and inside the data', () => {
    const svg = lineChartSvg({ kind: 'line', title: 't', series: [{ name: 'loss', points: [[1, 4.94], [211, 3.1], [421, 2.71]] }], x: STEP, y: { label: 'loss', unit: 'nats/token' } });
    expect(svg).toContain('>step (optimizer steps)</text>');
    expect(svg).toContain('>loss (nats/token)</text>');
    const xs = elements(svg, 'text', 'tick x').map((t) => Number(t['data-value']));
    const ys = elements(svg, 'text', 'tick y').map((t) => Number(t['data-value']));
    expect(xs).toEqual([100, 200, 300, 400]);
    expect(ys).toEqual([3, 3.5, 4, 4.5]);
  });

  it('gives every point a hover value', () => {
    const svg = lineChartSvg(rounds(1));
    expect(svg.match(/<circle class="pt"/g)).toHaveLength(6);
    expect(svg).toContain('<title>round 0 · pass · step 2: loss 0.68</title>');
  });

  it('escapes series names and titles everywhere', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const c: LineChart = { kind: 'line', title: evil, series: [{ name: evil, points: [[1, 1], [2, 2]] }], x: STEP, y: { label: 'y' } };
    const html = chartHtml(c);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('bar charts', () => {
  const tox: BarChart = {
    kind: 'bar',
    title: 'red-team toxic rate per round',
    bars: [
      { label: 'baseline', value: 0.04, note: 'baseline' },
      { label: 'round 0', value: 0.02, limit: 0.06, note: 'pass' },
      { label: 'round 1', value: 0.125, limit: 0.06, note: 'reject' },
    ],
    x: { label: 'model' },
    y: { label: 'toxic rate', unit: 'fraction of prompts' },
    noteName: 'verdict',
    limitName: 'gate limit',
    legend: [{ label: 'pass', color: '#2ca02c' }],
  };

  it('keeps the legend (with the dashed limit) beside the bars', () => {
    const svg = barChartSvg(tox);
    const lx = Number(elements(svg, 'rect', 'legend-box')[0].x);
    for (const b of elements(svg, 'rect', 'bar')) expect(Number(b.x) + Number(b.width)).toBeLessThan(lx);
    for (const l of elements(svg, 'line', 'limit')) expect(Number(l.x2)).toBeLessThan(lx);
    expect(svg).toContain('>gate limit</text>');
    const ys = elements(svg, 'text', 'tick y').map((t) => Number(t['data-value']));
    expect(ys).toEqual([0, 0.05, 0.1]);
  });

  it('uses integer ticks for counts', () => {
    const svg = barChartSvg({ kind: 'bar', title: 'rows', bars: [{ label: 'a', value: 3 }, { label: 'b', value: 1 }], x: { label: 'stage' }, y: { label: 'rows', unit: 'count', integer: true } });
    expect(elements(svg, 'text', 'tick y').map((t) => Number(t['data-value']))).toEqual([0, 1, 2, 3]);
  });

  it('puts its numbers in a details table, the same one report.md carries', () => {
    const html = chartHtml(tox);
    expect(html).toMatch(/<details><summary>numbers \(3 rows\)<\/summary><table>/);
    expect(chartTable(tox)).toEqual({
      header: ['model', 'toxic rate (fraction of prompts)', 'gate limit', 'verdict'],
      rows: [['baseline', '0.04', '', 'baseline'], ['round 0', '0.02', '0.06', 'pass'], ['round 1', '0.125', '0.06', 'reject']],
    });
    expect(chartMd(tox)).toBe(
      '### red-team toxic rate per round\n\n| model | toxic rate (fraction of prompts) | gate limit | verdict |\n|---|---|---|---|\n| baseline | 0.04 |  | baseline |\n| round 0 | 0.02 | 0.06 | pass |\n| round 1 | 0.125 | 0.06 | reject |\n',
    );
  });
});

describe('markdown cells', () => {
  it('escape HTML, pipes and line breaks (model text is untrusted)', () => {
    expect(mdCell('<script>alert(1)</script> a|b\nc & d')).toBe('&lt;script&gt;alert(1)&lt;/script&gt; a\\|b c &amp; d');
    expect(mdTable(['a<b>'], [[null]])).toBe('| a&lt;b&gt; |\n|---|\n|  |');
  });
});

describe('table numbers', () => {
  it('keep 6 significant digits and switch to e-notation for tiny values', async () => {
    const { num } = await import('../../src/report/svg.ts');
    expect([num(0.750001234), num(-0.00000406901), num(1e-9), num(318), num(0.0001234), num(Number.NaN), num(null)]).toEqual(['0.750001', '-4.06901e-6', '1e-9', '318', '0.0001234', '', '']);
  });
});
