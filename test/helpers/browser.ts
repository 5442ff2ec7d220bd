/** Opening a page in headless Chromium for the browser tests, with every problem it shows collected. */
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';

export interface OpenedPage {
  page: Page;
  /** Page errors, console errors and warnings, and requests `allowRequest` refused. */
  problems: string[];
  close: () => Promise<void>;
}

export async function openPage(browser: Browser, url: string, opts: { context?: BrowserContextOptions; allowRequest: (url: string) => boolean; requestLabel?: string }): Promise<OpenedPage> {
  const context = await browser.newContext({ locale: 'ko-KR', ...opts.context });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('request', (r) => {
    if (!opts.allowRequest(r.url())) problems.push(`${opts.requestLabel ?? 'request'}: ${r.url()}`);
  });
  await page.goto(url);
  return { page, problems, close: () => context.close() };
}
