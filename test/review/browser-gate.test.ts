/**
 * `npm test` on a fresh machine: without Chromium the review page test is skipped with a
 * one-line notice; under CI (CI=true) a missing Chromium fails it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.ts';

function runBrowserTest(extraEnv: Record<string, string>): { code: number; out: string } {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'CI' && !k.startsWith('VITEST')) env[k] = v;
  const r = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/review/browser.test.ts'], {
    cwd: repoRoot,
    env: { ...env, CHROMIUM_PATH: '/nonexistent/chromium-없음', ...extraEnv },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? 1, out: `${r.stdout}\n${r.stderr}` };
}

describe('the browser test without Chromium', () => {
  it('is skipped with a one-line notice outside CI', () => {
    const r = runBrowserTest({});
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('review page browser test skipped: no Chromium at /nonexistent/chromium-없음');
    expect(r.out).toMatch(/2 skipped/);
  });

  it('fails under CI=true', () => {
    const r = runBrowserTest({ CI: 'true' });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('headless browser test needs Chromium at /nonexistent/chromium-없음');
  });
});
