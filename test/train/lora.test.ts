import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { LoraAdapters, mergeAdapterDir } from '../../src/train/lora.ts';
import { readSafetensors, readSafetensorsHeader } from '../../src/model/safetensors.ts';
import { repoRoot } from '../helpers/cli.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'model');

beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
});

describe('rsLoRA (PEFT use_rslora)', () => {
  // peft src/peft/tuners/lora/layer.py LoraLayer.update_layer: scaling = lora_alpha / math.sqrt(r)
  // when use_rslora, else lora_alpha / r; peft tuners/lora/config.py LoraConfig.use_rslora.
  it('scales by alpha / sqrt(r), merges with that scale, and round-trips use_rslora in adapter_config.json', async () => {
    const model = await loadModel(join(FIX, 'qwen2-bias'));
    const cfg = { r: 4, alpha: 8, dropout: 0, target_modules: ['q_proj'], merge: false, use_rslora: true };
    const ad = LoraAdapters.create(model, cfg, 1);
    expect(ad.scale).toBe(4); // 8 / sqrt(4), not 8 / 4
    expect(new LoraAdapters({ ...cfg, use_rslora: false }, model.config).scale).toBe(2);
    const name = 'model.layers.0.self_attn.q_proj';
    const { A, B } = ad.modules.get(name)!;
    B.assign(tf.fill(B.shape, 0.01));
    const before = Array.from(model.params.get(`${name}.weight`)!.dataSync());
    const delta = Array.from(tf.matMul(B, A).dataSync());
    const dir = join(mkdtempSync(join(tmpdir(), 'ko-align-rslora-')), 'adapter');
    await ad.save(dir, 'models/기본');
    const saved = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect([saved.use_rslora, saved.r, saved.lora_alpha]).toEqual([true, 4, 8]);
    const back = LoraAdapters.load(dir, model);
    expect(back.scale).toBe(4);
    back.mergeInto(model);
    const after = Array.from(model.params.get(`${name}.weight`)!.dataSync());
    after.forEach((w, i) => expect(w).toBeCloseTo(before[i] + 4 * delta[i], 5));
    // a DoRA adapter is refused rather than merged as plain LoRA
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...saved, use_dora: true }));
    expect(() => LoraAdapters.load(dir, model)).toThrow(/use_dora is not implemented/);
    ad.dispose();
    back.dispose();
    model.dispose();
  });
});

describe('ko-align model merge (mergeAdapterDir)', () => {
  it('writes base + scale * B A as a full model in the base dtype, with the tokenizer files', async () => {
    const base = join(FIX, 'mistral-bf16-sharded');
    const model = await loadModel(base);
    const ad = LoraAdapters.create(model, { r: 2, alpha: 4, dropout: 0, target_modules: ['v_proj'], merge: false, use_rslora: true }, 7);
    for (const { B } of ad.modules.values()) B.assign(tf.fill(B.shape, 0.02));
    const name = 'model.layers.1.self_attn.v_proj';
    const { A, B } = ad.modules.get(name)!;
    const delta = Array.from(tf.matMul(B, A).dataSync());
    const w0 = Array.from(model.params.get(`${name}.weight`)!.dataSync());
    const root = mkdtempSync(join(tmpdir(), 'ko-align-merge-'));
    await ad.save(join(root, 'adapter'), base);
    ad.dispose();
    model.dispose();
    const r = await mergeAdapterDir({ model: base, adapter: join(root, 'adapter'), out: join(root, 'merged'), backend: 'wasm', log: () => {} });
    expect(r.modules).toBe(2);
    expect(readSafetensorsHeader(join(root, 'merged', 'model.safetensors')).tensors.get(`${name}.weight`)!.dtype).toBe('BF16');
    const merged = readSafetensors(join(root, 'merged', 'model.safetensors')).get(`${name}.weight`)!.data;
    const scale = 4 / Math.sqrt(2);
    // bf16 keeps ~3 significant digits
    merged.forEach((w, i) => expect(Math.abs(w - (w0[i] + scale * delta[i]))).toBeLessThan(Math.abs(w0[i] + scale * delta[i]) / 128 + 1e-6));
  });
});
