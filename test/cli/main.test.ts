import { describe, expect, it, vi } from 'vitest';

// convertFile stands in for any command whose engine runs out of memory.
vi.mock('../../src/data/convert.ts', () => ({
  convertFile: async () => {
    throw new RangeError('Array buffer allocation failed');
  },
}));
import { main } from '../../src/cli/main.ts';
import { runCli } from '../helpers/cli.ts';

/** Runs the CLI in-process and returns the exit code and what it wrote to stderr and stdout. */
async function inProcess(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  try {
    const code = await main(['node', 'ko-align', ...args]);
    return { code, stderr, stdout };
  } finally {
    e.mockRestore();
    o.mockRestore();
  }
}

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

describe('bad flags get one line, not the whole help', () => {
  it('a mistyped flag names it, the closest valid flag and --help', async () => {
    const r = await inProcess(['convert', '--inptu', '데이터.jsonl', '--output', 'x.jsonl']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("ko-align: error: unknown option '--inptu' (did you mean --input?); see 'ko-align convert --help' for more\n");
    expect(r.stdout).toBe('');
  });

  it('names the mistyped flag even when a required option is then missing, in nested commands too', async () => {
    const r = await inProcess(['judge', 'batch', 'submit', '--stat', 'b.json']);
    expect(r.stderr).toBe("ko-align: error: unknown option '--stat' (did you mean --state?); see 'ko-align judge batch submit --help' for more\n");
  });

  it('--progress bogus is refused with the allowed values', async () => {
    const r = await inProcess(['curate', '--config', 'configs/curate.yaml', '--progress', 'bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("argument 'bogus' is invalid. Allowed choices are auto, bar, lines, off; see 'ko-align curate --help'");
  });

  it('a missing required option and an unknown subcommand are one line each', async () => {
    const a = await inProcess(['convert']);
    expect(a.stderr).toBe("ko-align: error: required option '--input <file>' not specified; see 'ko-align convert --help' for more\n");
    const b = await inProcess(['judge', 'scor']);
    expect(b.stderr).toBe("ko-align: error: unknown command 'scor' (did you mean score?); see 'ko-align judge --help' for more\n");
  });

  it('a command group without a subcommand lists its subcommands and nothing else', async () => {
    const r = await inProcess(['judge', 'batch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('submit');
    expect(r.stderr).not.toContain('ko-align: error');
  });

  it('--help still prints the help, exit 0', async () => {
    const r = await inProcess(['convert', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--input <file>');
  });
});

describe('engine failures', () => {
  it('out of memory prints one line with the cause and the remedy, not internal error', async () => {
    const r = await inProcess(['convert', '--input', '큰.jsonl', '--output', '작은.parquet']);
    expect(r.code).toBe(1);
    // the engine's message (src/engine/memory.ts): the limit hit and what to change, in one line
    expect(r.stderr).toMatch(/^ko-align: error: out of memory: the model ran past this machine's memory \(.* GB in all, .* free now\) \(Array buffer allocation failed\); try .*per_device_train_batch_size.*gradient_checkpointing: true, a smaller model\n$/);
    expect(r.stderr).not.toContain('internal error');
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
