/**
 * A machine without the native backend's pieces (no BLAS, no C compiler) still runs every
 * command on the portable backends, says once in one line what to install, and an explicit
 * `--backend native` fails with that line instead of a stack trace. Simulated with
 * KO_ALIGN_BLAS (an explicitly named BLAS is the only one tried) and CC.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/cli.ts';

const MODEL = join(repoRoot, 'test', 'fixtures', 'model', 'llama-gqa');
const INPUT = join(MODEL, 'input.jsonl');

describe('without the native backend', () => {
  it('no BLAS: auto runs on wasm and names what to install; --backend native is a one-line error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-native-missing-'));
    const env = { KO_ALIGN_BLAS: '/nonexistent/libopenblas.so.0' };
    const auto = runCli(['logprobs', '--model', MODEL, '--input', INPUT, '--output', join(dir, 'out.jsonl')], { env });
    expect(auto.code).toBe(0);
    const line = auto.stderr.split('\n').find((l) => l.startsWith('backend:'));
    expect(line).toMatch(/^backend: wasm \(auto; skipped .*native; for the faster native CPU backend: no BLAS library with cblas_sgemm found \(KO_ALIGN_BLAS=\/nonexistent\/libopenblas\.so\.0 .*\); install a C compiler and OpenBLAS: apt-get install gcc libopenblas0-pthread/);
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n')).toHaveLength(readFileSync(INPUT, 'utf8').trim().split('\n').length);

    const explicit = runCli(['logprobs', '--model', MODEL, '--input', INPUT, '--output', join(dir, 'out2.jsonl'), '--backend', 'native'], { env });
    expect(explicit.code).toBe(1);
    expect(explicit.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ko-align: error: backend 'native' is not available: no BLAS library with cblas_sgemm found/)]);
  });

  it('no C compiler: the kernels cannot be built, and the message says to install one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-native-nocc-'));
    const env = { CC: '/nonexistent/cc', KO_ALIGN_NATIVE_DIR: join(dir, 'native-build') };
    const r = runCli(['logprobs', '--model', MODEL, '--input', INPUT, '--output', join(dir, 'out.jsonl'), '--backend', 'native'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^ko-align: error: backend 'native' is not available: no C compiler \('\/nonexistent\/cc' not found; install gcc, or set CC\)/);
  });
});
