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

describe('ko-align run', () => {
  it('fails with one line naming the config key, exit 1, no stack trace', () => {
    const r = runCli(['run', 'configs/quickstart.yaml', '--set', 'sweep.gate.max_toxic_rat=0.1', '--set', 'runs_dir=/tmp/ko-align-cli-bad']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      "ko-align: error: configs/quickstart.yaml: sweep: unknown key 'gate.max_toxic_rat' (did you mean 'gate.max_toxic_rate'?)",
    ]);
  });

  it('reports a missing config file in one line', () => {
    const r = runCli(['run', 'configs/없음.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ko-align: error: configs/없음.yaml: config file not found\n');
  });
});
