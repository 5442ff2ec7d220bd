import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/checkpoint.ts';
import { toUnit } from '../../src/train/data.ts';
import { evalLoss, trainSft, validateSftConfig } from '../../src/train/sft.ts';
import { repoRoot } from '../helpers/cli.ts';
import { nativeAvailable } from '../helpers/native.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'train');

const BACKENDS = nativeAvailable() ? ['wasm', 'native'] : ['wasm'];

describe.each(BACKENDS)('SFT against the PyTorch reference (llama_ref.py sft) on %s', (backend) => {
  it('reproduces the reference loss trajectory of full-batch AdamW steps within 2e-3 relative', async () => {
    const expected = JSON.parse(readFileSync(join(FIX, 'sft-expected.json'), 'utf8')) as { losses: number[]; lr: number };
    const out = mkdtempSync(join(tmpdir(), 'ko-align-sft-golden-'));
    const cfg = validateSftConfig({
      model: join(FIX, 'tiny-llama'),
      output_dir: out,
      dataset: { path: join(FIX, 'sft-rows.jsonl'), format: 'pretokenized' },
      max_steps: expected.losses.length - 1,
      per_device_train_batch_size: 6,
      learning_rate: expected.lr,
      lr_scheduler_type: 'constant',
      weight_decay: 0,
      max_grad_norm: 0,
      shuffle: false,
      logging_steps: 1,
      save_steps: 0,
      backend,
    });
    const res = await trainSft(cfg, { log: () => {} });
    const losses = res.metrics.map((m) => m.loss!);
    expect(losses).toHaveLength(expected.losses.length - 1);
    losses.forEach((l, i) => expect(Math.abs(l - expected.losses[i]) / expected.losses[i]).toBeLessThan(2e-3));
    // The loss falls: the updates are real, not just the initial forward repeated.
    expect(losses[3]).toBeLessThan(losses[0] - 0.3);
    // The saved final model (after the last update) scores the reference's next loss.
    const final = await loadModel(res.finalDir);
    const rows = readFileSync(join(FIX, 'sft-rows.jsonl'), 'utf8').trim().split('\n').map((l) => toUnit(JSON.parse(l), 64));
    const last = expected.losses[expected.losses.length - 1];
    expect(Math.abs((await evalLoss(final, rows, rows.length, 0)) - last) / last).toBeLessThan(2e-3);
    final.dispose();
  });
});
