/**
 * The GPU benchmark's set-up, checked without a GPU: the carry's package list (bench/gpu/
 * packages.txt) resolves to installed packages and covers everything bench/gpu/bench.ts imports;
 * the shell scripts parse; the bench runs end to end in smoke mode (tiny models on wasm) and writes
 * result lines; the summary computes the ratio to PyTorch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.ts';
import { importClosure, missingPackages, readPackageList, uncoveredImports } from '../../bench/gpu/packages.ts';
import { summaryTable, type Result, type TorchResult } from '../../bench/gpu/bench.ts';

const work = mkdtempSync(join(tmpdir(), 'ko-align-gpu-setup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the carry package list (bench/gpu/packages.txt)', () => {
  const list = readPackageList();

  it('names only packages installed in node_modules', () => {
    expect(list.length).toBeGreaterThan(10);
    expect(missingPackages(list)).toEqual([]);
    expect(missingPackages(['no-such-package-한글'])).toEqual(['no-such-package-한글']);
  });

  it("covers the static import closure of bench/gpu/bench.ts, webgpu and the tfjs backends included", async () => {
    const closure = await importClosure();
    for (const p of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'webgpu', 'yaml']) expect(closure).toContain(p);
    expect(await uncoveredImports(list)).toEqual([]);
    // A list without webgpu is caught.
    expect(await uncoveredImports(list.filter((p) => p !== 'webgpu'))).toEqual(['webgpu']);
  });

  it('carries the TypeScript runner (tsx, esbuild and its linux-x64 binary)', () => {
    for (const p of ['tsx', 'esbuild', '@esbuild/linux-x64']) expect(list).toContain(p);
  });
});

describe('the shell scripts', () => {
  for (const f of ['run.sh', 'pack.sh']) {
    it(`bench/gpu/${f} parses (bash -n)`, () => {
      const r = spawnSync('bash', ['-n', join(repoRoot, 'bench', 'gpu', f)], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }

  it('run.sh refuses an unknown phase before doing any set-up', () => {
    const out = join(work, 'refused');
    const r = spawnSync('bash', [join(repoRoot, 'bench', 'gpu', 'run.sh'), 'sft-1t'], { encoding: 'utf8', env: { ...process.env, OUT: out } });
    expect(r.status).toBe(2);
    expect(r.stdout + r.stderr).toContain("unknown phase 'sft-1t'");
  });
});

describe('bench/gpu/bench.ts in smoke mode (tiny models on wasm)', () => {
  it('checks the golden fixtures and trains SFT and KTO steps, writing one result line per phase', () => {
    const out = join(work, 'results.jsonl');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'gpu', 'bench.ts'), '--phase', 'parity,sft-7m,kto-7m', '--out', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, KO_ALIGN_GPU_BENCH_SMOKE: '1', KO_ALIGN_GPU_BENCH_BACKEND: 'wasm', KO_ALIGN_GPU_BENCH_STEPS: '2' },
      timeout: 60_000,
    });
    expect(r.stderr).not.toContain('Error');
    expect(r.status).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Result);
    expect(lines.map((l) => l.phase)).toEqual(['parity', 'sft-7m', 'kto-7m']);
    const [parity, sft, kto] = lines;
    expect(parity.ok).toBe(true);
    expect((parity.fixtures as unknown[]).length).toBeGreaterThanOrEqual(5);
    expect(parity.maxAbsDiff as number).toBeLessThanOrEqual(2e-3);
    for (const t of [sft, kto]) {
      expect(t.ok).toBe(true);
      expect(t.backend).toBe('wasm');
      expect((t.stepSeconds as number[]).length).toBe(3); // 1 warm-up + 2 timed
      expect(t.tokensPerSecond as number).toBeGreaterThan(0);
      // No tensor leak across steps.
      const n = t.numTensorsPerStep as number[];
      expect(n[n.length - 1]).toBe(n[0]);
    }
    expect((sft.profile as { kernelLaunches: number }).kernelLaunches).toBeGreaterThan(100);
    expect(r.stdout).toContain('parity on wasm: PASS');
  });
});

describe('summaryTable', () => {
  it('puts our tokens/s beside PyTorch float32 and computes the ratio', () => {
    const ours: Result[] = [
      { phase: 'parity', backend: 'webgpu', ok: false, smoke: false, maxAbsDiff: 3e-3, fixtures: [{ name: 'llama-gqa', maxAbsDiff: 3e-3, ok: false }] },
      { phase: 'sft-100m', backend: 'webgpu', ok: true, smoke: false, model: '~110M', params: 109_529_856, batch: 8, seq: 512, tokensPerStep: 4096, tokensPerSecond: 5000, gpuBytesPeak: 3 * 2 ** 30, profile: { kernelLaunches: 2345 } },
    ];
    const torch: TorchResult[] = [
      { method: 'sft', model: '100m', mode: 'fp32', tokens_per_s: 10000 },
      { method: 'sft', model: '100m', mode: 'bf16', tokens_per_s: 40000 },
      { method: 'kto', model: '7m', mode: 'fp32', tokens_per_s: 123456 },
    ];
    const t = summaryTable(ours, torch);
    expect(t).toContain('parity on webgpu: FAIL');
    const row = t.split('\n').find((l) => l.startsWith('| sft-100m'))!;
    expect(row).toContain('| 5000 |');
    expect(row).toContain('| 10000 | 50.0% |');
    expect(row).toContain('| 40000 |');
    expect(row).toContain('3072 / -');
    expect(row).toContain('2345');
    expect(t).toContain('| kto-7m | (not run)');
  });
});

describe('bench/gpu/torch_ref.py', () => {
  const py = '/usr/bin/python3';
  const hasTorch = existsSync(py) && spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasTorch)('runs the same SFT step in PyTorch on CPU (smoke sizes) and prints tokens/s', () => {
    const r = spawnSync(py, [join(repoRoot, 'bench', 'gpu', 'torch_ref.py'), '--smoke', '--device', 'cpu', '--models', '7m', '--methods', 'sft,kto', '--modes', 'fp32'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TorchResult);
    expect(lines.map((l) => `${l.method}/${l.mode}`)).toEqual(['sft/fp32', 'kto/fp32']);
    for (const l of lines) expect(l.tokens_per_s).toBeGreaterThan(0);
    // The same parameter count as our smoke model (bench.ts MODELS['7m']).
    expect(lines[0].params).toBe(34976);
  });
});
