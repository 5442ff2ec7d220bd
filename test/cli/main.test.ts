import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

describe('ko-align CLI shell', () => {
  it('prints help listing its name', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ko-align');
  });

  it('rejects an unknown command with a non-zero exit and no stack trace', () => {
    const r = runCli(['없는-명령']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
