/**
 * KTO round time with the reference cache built vs read, on the 7M bench model (vocab 8192,
 * hidden 256, 4 layers, 8 heads / 4 KV heads, intermediate 688): 32 rows of 96 prompt + 32
 * completion tokens, batch 8, 2 optimizer steps per round. The second round changes beta, so it
 * is a new round of a sweep that reads the cache and never loads the reference model.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initModelDir } from '../src/model/init.ts';
import { trainKto, validateKtoConfig } from '../src/train/kto.ts';
import { seededRandom } from '../src/sweep/space.ts';
import type { BenchRow } from './types.ts';

export async function run(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-kto-'));
  try {
    const model = join(dir, 'model');
    await initModelDir({ arch: 'llama', vocab: 8192, hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688, out: model, seed: 0 });
    const rnd = seededRandom(1);
    const ids = (n: number) => Array.from({ length: n }, () => 1 + Math.floor(rnd() * 8000));
    const rows = Array.from({ length: 32 }, (_, i) => ({ prompt_input_ids: ids(96), completion_input_ids: ids(32), label: i % 2 === 0 }));
    const data = join(dir, 'kto.jsonl');
    await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const round = async (beta: number, out: string) => {
      const cfg = validateKtoConfig(
        { model, output_dir: join(dir, out), dataset: { path: data }, per_device_train_batch_size: 8, max_steps: 2, learning_rate: 1e-5, beta, logging_steps: 1, save_steps: 0, backend: process.env.KO_ALIGN_BENCH_BACKEND ?? 'auto', ref_logps_cache: join(dir, 'cache'), ref_batch_size: 8 },
        'bench',
      );
      const t0 = performance.now();
      const res = await trainKto(cfg, { log: () => {}, progress: false });
      return { secs: (performance.now() - t0) / 1000, status: res.referenceCache };
    };
    const built = await round(0.1, 'r1');
    const hit = await round(0.3, 'r2');
    return [
      { bench: 'kto round 7M (32 rows, 2 steps)', metric: 'time, cache built', value: built.secs, unit: 's', note: built.status },
      { bench: 'kto round 7M (32 rows, 2 steps)', metric: 'time, cache read', value: hit.secs, unit: 's', note: hit.status },
      { bench: 'kto round 7M (32 rows, 2 steps)', metric: 'speedup from the cache', value: built.secs / hit.secs, unit: 'x' },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
