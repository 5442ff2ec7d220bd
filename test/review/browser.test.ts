/**
 * The offline review page in headless Chromium (Debian's chromium package): open the exported
 * file:// page, decide with the keyboard, download the decisions JSON, check it, import it.
 * Also proves the injection payloads in the samples stay inert (no script ran, no element made).
 *
 * Needs /usr/bin/chromium (apt-get install chromium; .ci/run installs it); CHROMIUM_PATH
 * overrides. Without it the test is skipped with a one-line notice, so `npm test` passes on a
 * fresh machine; under CI (CI=true) it FAILS instead: the HTML page's acceptance is this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { exportReview } from '../../src/review/export.ts';
import { importReview } from '../../src/review/import.ts';
import { rowToItem } from '../../src/review/items.ts';
import { readAllRows } from '../../src/data/io.ts';
import { scoredRows, tempDir, writeJsonl } from './helpers.ts';
import { openPage, type OpenedPage } from '../helpers/browser.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const RUN = HAVE_CHROMIUM || CI;
if (!RUN) console.warn(`review page browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH; CI=true makes this a failure)`);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser: Browser;
let dir: string;
let input: string;
let pageUrl: string;
const ids = scoredRows().map((r, i) => rowToItem(r, i + 1, 7).id);

beforeAll(async () => {
  if (!RUN) return;
  if (!HAVE_CHROMIUM) {
    throw new Error(`headless browser test needs Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`);
  }
  dir = await tempDir();
  input = await writeJsonl(join(dir, 'scored.jsonl'), scoredRows());
  const out = join(dir, 'review.html');
  await exportReview({ input, output: out, format: 'html' });
  pageUrl = pathToFileURL(out).href;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

afterAll(async () => {
  await browser?.close();
});

async function open(): Promise<OpenedPage> {
  return openPage(browser, pageUrl, {
    context: { acceptDownloads: true, viewport: { width: 1400, height: 900 } },
    allowRequest: (u) => u.startsWith('file:') || u.startsWith('blob:') || u.startsWith('data:'),
    requestLabel: 'network',
  });
}

describe.skipIf(!RUN)('review page in headless Chromium', () => {
  it('keeps injected payloads inert: shown as text, no script ran, no element created', async () => {
    const { page, problems, close } = await open();
    await page.keyboard.press('KeyJ');
    await page.keyboard.press('KeyJ');
    const rows = scoredRows();
    expect(await page.textContent('#prompt')).toBe(rows[2]!.prompt);
    expect(await page.textContent('#answer')).toBe(rows[2]!.answer);
    expect(await page.textContent('#judge-reason')).toBe(rows[2]!.judge_reason);
    await page.keyboard.press('KeyJ');
    expect(await page.textContent('#answer')).toBe(rows[3]!.answer);
    const injected = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: unknown }).__pwned ?? null,
      imgs: document.querySelectorAll('img').length,
      svgs: document.querySelectorAll('svg').length,
      scripts: document.scripts.length,
      textareas: document.querySelectorAll('textarea').length,
      bold: document.querySelectorAll('#card b:not(#judge b)').length,
    }));
    expect(injected).toEqual({ pwned: null, imgs: 0, svgs: 0, scripts: 2, textareas: 1, bold: 0 });
    expect(problems).toEqual([]);
    await close();
  });

  it('records keyboard decisions (also with the Korean keyboard layout) and downloads them as JSON that imports', async () => {
    const { page, problems, close } = await open();
    expect(await page.textContent('#position')).toBe('항목 1 / 7');

    // Downloading before giving a name asks for the name instead.
    await page.keyboard.press('KeyD');
    expect(await page.isVisible('#message')).toBe(true);
    expect(await page.textContent('#message')).toContain('검수자 이름');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('reviewer');
    await page.keyboard.type('김검수');
    await page.keyboard.press('Escape');

    // 1: rating 4, accept (auto-advances).  2: reject.  3: comment, rating 2, reject (X).
    await page.keyboard.press('Digit4');
    await page.keyboard.press('KeyA');
    expect(await page.textContent('#position')).toBe('항목 2 / 7');
    await page.keyboard.press('KeyR');
    await page.keyboard.press('KeyC');
    await page.keyboard.type('스크립트 </textarea> 포함, "위험"');
    // Keys typed into the comment are text, not shortcuts.
    expect(await page.textContent('#position')).toBe('항목 3 / 7');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Digit2');
    await page.keyboard.press('KeyX');
    // 4: skipped.  5: rating only.  6: accept typed with the Korean 2-beolsik layout active
    // (key "ㅁ", physical key A).
    await page.keyboard.press('KeyJ');
    expect(await page.textContent('#position')).toBe('항목 5 / 7');
    await page.keyboard.press('Digit5');
    await page.keyboard.press('ArrowRight');
    await page.evaluate(() => document.dispatchEvent(new KeyboardEvent('keydown', { key: 'ㅁ', code: 'KeyA', bubbles: true })));
    expect(await page.textContent('#position')).toBe('항목 7 / 7');
    expect(await page.textContent('#progress-text')).toBe('검수 4 / 7 · 수락 2 · 거절 2');
    await page.screenshot({ path: join(dir, 'review-page.png') });

    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('KeyD')]);
    expect(download.suggestedFilename()).toMatch(/^ko-align-decisions-[0-9a-f]{8}-김검수\.json$/);
    const file = join(dir, 'decisions.json');
    await download.saveAs(file);
    const doc = JSON.parse(await readFile(file, 'utf8'));
    expect(doc).toMatchObject({ kind: 'ko-align-review-decisions', version: 1, reviewer: '김검수', threshold: 7, items: 7 });
    const brief = doc.decisions.map((d: Record<string, unknown>) => [d.id, d.decision, d.rating, d.comment, d.reviewer]);
    expect(brief).toEqual([
      [ids[0], 'accept', 4, null, '김검수'],
      [ids[1], 'reject', null, null, '김검수'],
      [ids[2], 'reject', 2, '스크립트 </textarea> 포함, "위험"', '김검수'],
      [ids[4], null, 5, null, '김검수'],
      [ids[5], 'accept', null, null, '김검수'],
    ]);
    for (const d of doc.decisions) expect(Number.isFinite(Date.parse(d.reviewed_at))).toBe(true);

    // Decisions survive a reload (kept in the browser's storage for this export).
    await page.reload();
    expect(await page.textContent('#progress-text')).toBe('검수 4 / 7 · 수락 2 · 거절 2');
    expect(await page.inputValue('#reviewer')).toBe('김검수');
    expect(problems).toEqual([]);
    await close();

    // ... and the downloaded file imports.
    const out = join(dir, 'reviewed.jsonl');
    const r = await importReview({ decisions: file, input, output: out });
    expect(r.sources[0]).toMatchObject({ format: 'html', decisions: 5 });
    expect(r.counts).toEqual({ accepted: 2, rejected: 2, conflict: 0, incomplete: 1, unreviewed: 2 });
    expect(r.unknown).toEqual([]);
    const rows = await readAllRows(out);
    expect(rows[2]).toMatchObject({ review_status: 'rejected', review_comment: '스크립트 </textarea> 포함, "위험"', reviewer: '김검수', label: false });
    // Judge: 9 accept, 8 accept, 3 reject (item 6 failed: no verdict). Human: accept, reject, reject.
    expect(r.agreement.n).toBe(3);
    expect(r.agreement.accuracy).toBeCloseTo(2 / 3, 12);
  });
});
