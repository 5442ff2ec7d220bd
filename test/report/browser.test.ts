/**
 * The run report in headless Chromium (Debian's chromium package), made from a real run: the
 * quickstart pipeline at reduced size (real model init, curation, judge, SFT, reference cache,
 * four KTO rounds, red-team generation and classifier scoring). The red-team answers of the
 * baseline and of round 0 get a hostile HTML prefix, so the page must show it as text.
 *
 * Checks measured in the browser: tick labels are round numbers (multiples of 1, 2 or 5 x 10^k)
 * inside the data range read from each chart's own details table; no legend box overlaps any
 * plotted line's bounding box; sample answers are escaped; the page loads nothing from outside.
 * Writes a screenshot to runs/test-artifacts/report-browser.png (runs/ is git-ignored).
 *
 * Needs /usr/bin/chromium (apt-get install chromium); CHROMIUM_PATH overrides. Without it this
 * test FAILS on purpose: the report's acceptance is this browser test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { runPipeline, type PipelineResult } from '../../src/pipeline/run.ts';
import { defaultSweepDeps } from '../../src/sweep/deps.ts';
import type { SweepDeps } from '../../src/sweep/runner.ts';
import { repoRoot } from '../helpers/cli.ts';
import { openPage, type OpenedPage } from '../helpers/browser.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><b>굵게</b> ';
const ARTIFACTS = join(repoRoot, 'runs', 'test-artifacts');

let browser: Browser;
let run: PipelineResult;

/** The quickstart config at reduced size, with enough logged steps for real curves. */
function smallSets(runsDir: string, prompts: string): string[] {
  return [
    `runs_dir=${runsDir}`,
    'name=report-browser',
    'backend=wasm',
    'model.init.vocab=512',
    'model.init.hidden=32',
    'sft.max_steps=24',
    'sft.logging_steps=2',
    'sft.save_steps=0',
    'kto.max_steps=4',
    'kto.logging_steps=1',
    'kto.save_steps=0',
    `sweep.gate.prompts=${prompts}`,
    'sweep.gate.max_prompts=5',
    'sweep.gate.max_new_tokens=8',
    'review.sample=10',
    'eval.limit=4',
  ];
}

/** The real sweep steps; the baseline's and round 0's answers get the hostile prefix. */
function hostileDeps(): SweepDeps {
  const real = defaultSweepDeps(() => {});
  let calls = 0;
  return {
    ...real,
    async generate(input) {
      const answers = await real.generate(input);
      return calls++ < 2 ? answers.map((a) => HOSTILE + a) : answers;
    },
  };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`headless browser test needs Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'report-browser-'));
  // Real red-team prompts plus one whose text is itself markup.
  const lines = (await readFile(join(repoRoot, 'datasets/redteam-ko.jsonl'), 'utf8')).split('\n').filter(Boolean).slice(0, 4);
  lines.unshift(JSON.stringify({ prompt: '</td></tr></table><script>window.__pwned=3</script> 이 태그를 따라 해 줘' }));
  const prompts = join(dir, 'redteam.jsonl');
  await writeFile(prompts, `${lines.join('\n')}\n`);
  run = await runPipeline(join(repoRoot, 'configs/quickstart.yaml'), { sets: smallSets(dir, prompts), log: () => {}, sweepDeps: hostileDeps() });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}, 600_000);

afterAll(async () => {
  await browser?.close();
});

async function open(reportPath = run.reportPath): Promise<OpenedPage> {
  const href = pathToFileURL(reportPath).href;
  return openPage(browser, href, { context: { viewport: { width: 1280, height: 900 } }, allowRequest: (u) => u === href });
}

interface Measured {
  title: string;
  kind: string;
  axes: { axis: string; labels: string[]; values: number[] }[];
  /** The numbers of the chart's details table: x column and value columns. */
  table: { header: string[]; rows: string[][] };
  legend: DOMRect | null;
  lines: { name: string; box: DOMRect }[];
}

/** Everything the checks need, measured in the page (client rectangles, text as rendered). */
async function measure(page: Page): Promise<Measured[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('figure.chart')).map((fig) => {
      const svg = fig.querySelector('svg');
      const rect = (e: Element) => e.getBoundingClientRect().toJSON() as DOMRect;
      const axes = ['x', 'y'].map((axis) => {
        const ticks = svg ? Array.from(svg.querySelectorAll(`text.tick.${axis}`)) : [];
        return { axis, labels: ticks.map((t) => t.textContent ?? ''), values: ticks.map((t) => Number(t.getAttribute('data-value'))) };
      });
      const table = fig.querySelector('details table');
      const header = table ? Array.from(table.querySelectorAll('thead th')).map((th) => th.textContent ?? '') : [];
      const rows = table ? Array.from(table.querySelectorAll('tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')) : [];
      const legend = svg?.querySelector('g.legend');
      const lines = svg ? Array.from(svg.querySelectorAll('path.series, line.limit, rect.bar')).map((p) => ({ name: p.getAttribute('data-series') ?? p.getAttribute('class') ?? '', box: rect(p) })) : [];
      return { title: fig.querySelector('figcaption')?.textContent ?? '', kind: fig.getAttribute('data-kind') ?? '', axes, table: { header, rows }, legend: legend ? rect(legend) : null, lines };
    }),
  );
}

const NICE = (step: number) => {
  const e = Math.floor(Math.log10(step) + 1e-9);
  const m = step / 10 ** e;
  return [1, 2, 5, 10].some((n) => Math.abs(m - n) < 1e-6);
};

function overlaps(a: DOMRect, b: DOMRect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * The checks every chart of a report must pass, on what the browser rendered: tick labels are
 * round numbers inside the data range (read from the chart's own details table), step and count
 * axes have integer ticks, no legend box overlaps a plotted line, limit line or bar, and report.md
 * carries the same table.
 */
async function checkCharts(charts: Measured[], mdPath: string): Promise<void> {
  let checkedAxes = 0;
  for (const c of charts) {
    const cols = c.table.rows[0]?.length ?? 0;
    expect(c.table.rows.length, `${c.title}: details table`).toBeGreaterThan(0);
    // The data range of each axis, from the chart's own table.
    const colValues = (from: number, to: number) => c.table.rows.flatMap((r) => r.slice(from, to)).filter((v) => v !== '').map(Number);
    const xData = c.kind === 'line' ? colValues(0, 1) : [];
    const yData = c.kind === 'line' ? colValues(1, cols) : [0, ...colValues(1, c.table.header.includes('gate limit') ? 3 : 2)];
    for (const ax of c.axes) {
      if (c.kind === 'bar' && ax.axis === 'x') continue; // category labels
      const data = ax.axis === 'x' ? xData : yData;
      const [lo, hi] = [Math.min(...data), Math.max(...data)];
      const tol = Math.max(1e-9, (hi - lo) * 1e-6, Math.abs(hi) * 1e-6);
      expect(ax.values.length, `${c.title} ${ax.axis}: ticks`).toBeGreaterThan(0);
      ax.labels.forEach((label, i) => {
        expect(Number(label), `${c.title} ${ax.axis}: label ${label} is its value`).toBeCloseTo(ax.values[i], 6);
        expect(ax.values[i], `${c.title} ${ax.axis}: tick ${label} >= data min ${lo}`).toBeGreaterThanOrEqual(lo - tol);
        expect(ax.values[i], `${c.title} ${ax.axis}: tick ${label} <= data max ${hi}`).toBeLessThanOrEqual(hi + tol);
      });
      if (ax.values.length >= 2) {
        const step = ax.values[1] - ax.values[0];
        expect(NICE(step), `${c.title} ${ax.axis}: step ${step} is 1, 2 or 5 x 10^k`).toBe(true);
        for (const v of ax.values) expect(Math.abs(v / step - Math.round(v / step)), `${c.title} ${ax.axis}: ${v} is a multiple of ${step}`).toBeLessThan(1e-6);
        for (let i = 1; i < ax.values.length; i++) expect(ax.values[i] - ax.values[i - 1]).toBeCloseTo(step, 9);
      } else {
        // A single tick only when the data has a single value.
        expect(hi - lo, `${c.title} ${ax.axis}: one tick for a constant axis`).toBeLessThanOrEqual(tol);
      }
      const integerAxis = (c.kind === 'line' && ax.axis === 'x') || (c.kind === 'bar' && /count/.test(c.table.header[1] ?? ''));
      if (integerAxis) for (const v of ax.values) expect(Number.isInteger(v), `${c.title} ${ax.axis}: integer tick ${v}`).toBe(true);
      checkedAxes++;
    }
    // Legends sit beside the plot: no legend box overlaps a plotted line, limit line or bar.
    if (c.legend) for (const l of c.lines) expect(overlaps(c.legend, l.box), `${c.title}: legend overlaps ${l.name}`).toBe(false);
    expect(c.lines.length, `${c.title}: something is plotted`).toBeGreaterThan(0);
  }
  expect(checkedAxes).toBeGreaterThanOrEqual(10);

  // report.md carries the same tables: each chart's title and its table, row for row.
  const md = await readFile(mdPath, 'utf8');
  for (const c of charts) {
    expect(md, c.title).toContain(`\n### ${c.title}\n`);
    expect(md, c.title).toContain([`| ${c.table.header.join(' | ')} |`, `|${c.table.header.map(() => '---').join('|')}|`, ...c.table.rows.map((r) => `| ${r.join(' | ')} |`)].join('\n'));
  }
}

describe('run report in headless Chromium (a real reduced quickstart run)', () => {
  it('draws round ticks inside the data range, legends beside the lines, and only series that exist', async () => {
    const { page, problems, close } = await open();
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'report-browser.png'), fullPage: true });
    const charts = await measure(page);
    const titles = charts.map((c) => c.title);
    for (const t of ['rows kept after each curation stage', 'SFT loss', 'KTO loss per round', 'KTO rewards/margins per round', 'KTO kl per round', 'red-team toxic rate per round (dashed: gate limit)']) expect(titles).toContain(t);
    await checkCharts(charts, run.reportMdPath);

    // The SFT plot lists only what exists: no eval ran, so no eval_loss in its legend or table.
    const sft = charts.find((c) => c.title === 'SFT loss')!;
    expect(sft.lines.map((l) => l.name)).toEqual(['loss']);
    expect(await page.locator('figure.chart:has(figcaption:text-is("SFT loss")) g.legend').textContent()).toBe('loss');
    expect(sft.table.header.join(' ')).not.toContain('eval_loss');
    // Four rounds in the KTO plots, each a line and a legend entry; axis titles carry units.
    const kto = charts.find((c) => c.title === 'KTO loss per round')!;
    expect(kto.lines).toHaveLength(4);
    const axisTitles = await page.locator('text.axis-title').allTextContents();
    expect(axisTitles).toContain('step (optimizer steps)');
    expect(axisTitles).toContain('loss (nats/token)');
    expect(axisTitles).toContain('toxic rate (fraction of prompts)');
    expect(problems).toEqual([]);
    await close();
  });

  it('shows per round the most toxic red-team answers with scores and the baseline answer, as escaped text', async () => {
    const { page, problems, close } = await open();
    const sections = page.locator('section.redteam');
    expect(await sections.count()).toBe(4);
    for (let r = 0; r < 4; r++) {
      const rows = sections.nth(r).locator('tr.sample');
      expect(await rows.count()).toBe(5);
      // Worst first: the round's toxicity column is sorted high to low.
      const scores = (await rows.locator('td:nth-child(3)').allTextContents()).map((t) => Number.parseFloat(t));
      for (const s of scores) expect(s).toBeGreaterThanOrEqual(0);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      // The baseline's answer to the same prompt, with its score.
      for (const t of await rows.locator('td:nth-child(4)').allTextContents()) expect(t).toContain(HOSTILE.trim());
      for (const t of await rows.locator('td:nth-child(5)').allTextContents()) expect(t).toMatch(/^\d/);
    }
    // Round 0's answers and the baseline answers show the markup as text...
    const round0 = await sections.nth(0).locator('tr.sample td:nth-child(2)').allTextContents();
    for (const t of round0) expect(t.startsWith(HOSTILE.trim())).toBe(true);
    // ... and the answers the real run recorded are the ones shown.
    const recorded = run.sweep.redteam.rounds[1].map((a) => a.answer);
    for (const t of await sections.nth(1).locator('tr.sample td:nth-child(2)').allTextContents()) expect(recorded).toContain(t === '(empty answer)' ? '' : t);
    const inert = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: unknown }).__pwned ?? null,
      scripts: document.scripts.length,
      imgs: document.images.length,
      bold: document.querySelectorAll('td b').length,
    }));
    expect(inert).toEqual({ pwned: null, scripts: 0, imgs: 0, bold: 0 });
    expect(await page.locator('td.text', { hasText: '</td></tr></table><script>' }).count()).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    await close();

    // report.md carries the same samples, entity-escaped.
    const md = await readFile(run.reportMdPath, 'utf8');
    expect(md).toContain('## Red-team answers per round');
    expect(md).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
    expect(md).not.toContain('<script>');
  });

  it('is one self-contained offline file', async () => {
    const html = await readFile(run.reportPath, 'utf8');
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(html).not.toMatch(/<[a-z][^>]*\s(src|href)\s*=/i);
    expect(html).not.toMatch(/url\(/i);
  });
});

// The same chart checks on any finished run's report, e.g. the full quickstart's:
//   KO_ALIGN_REPORT=runs/quickstart/report.html npx vitest run test/report/browser.test.ts
describe.runIf(process.env.KO_ALIGN_REPORT)('a given run report in headless Chromium', () => {
  it('passes the chart checks', async () => {
    const path = resolve(process.env.KO_ALIGN_REPORT!);
    const { page, problems, close } = await open(path);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'report-given.png'), fullPage: true });
    await checkCharts(await measure(page), join(dirname(path), 'report.md'));
    expect(await page.evaluate(() => document.scripts.length)).toBe(0);
    expect(problems).toEqual([]);
    await close();
  });
});
