/**
 * The webgpu backend on a machine without a GPU: Mesa's software Vulkan driver (lavapipe,
 * unpacked by bench/gpu/lavapipe.sh from Debian's archive into /tmp; nothing installed) gives
 * Dawn an adapter, so the WebGPU shaders, buffer limits and asynchronous read-back of every
 * kernel the trainers use are exercised in CI. Its speed means nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.ts';

function lavapipeEnv(): Record<string, string> {
  const out = execFileSync('bash', [join(repoRoot, 'bench/gpu/lavapipe.sh')], { encoding: 'utf8', timeout: 300_000 });
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2].replace('${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}', '');
  return env;
}

describe('webgpu backend on a software Vulkan adapter', () => {
  it('matches the golden log-probs and runs SFT and KTO steps without leaking tensors', () => {
    const env = lavapipeEnv();
    expect(env.VK_DRIVER_FILES).toMatch(/lvp_icd\.json$/);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/gpu/bench.ts', '--phase', 'parity,sft-7m,kto-7m'], {
      cwd: repoRoot,
      env: { ...process.env, ...env, KO_ALIGN_GPU_BENCH_SMOKE: '1', KO_ALIGN_GPU_BENCH_BACKEND: 'webgpu' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    const text = `${r.stdout}\n${r.stderr}`;
    expect(text).toContain('backend: webgpu');
    expect(text).toMatch(/parity on webgpu: PASS/);
    const results = [...text.matchAll(/^GPU_BENCH_RESULT (.*)$/gm)].map((m) => JSON.parse(m[1]));
    for (const phase of ['sft-7m', 'kto-7m']) {
      const res = results.find((x) => x.phase === phase);
      expect(res, phase).toBeDefined();
      expect(res.ok, `${phase}: ${res?.error ?? ''}`).toBe(true);
      expect(res.backend).toBe('webgpu');
      // Same live tensor count after every step: nothing leaks per step.
      expect(new Set(res.numTensorsPerStep).size).toBe(1);
    }
  }, 600_000);
});
