/**
 * EXAONE 3.x (ExaoneForCausalLM): config keys and weight names of its own, Llama maths. The
 * golden log-probs of test/fixtures/model/exaone-gqa come from the PyTorch reference (see
 * make_exaone.py; llama.test.ts checks them on every CPU backend); here: the names survive
 * every round trip (save, LoRA adapters, merge), so what we write loads in EXAONE's own code.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel, saveModel } from '../../src/model/checkpoint.ts';
import { paramShapes, parseConfig } from '../../src/model/config.ts';
import { initModelDir } from '../../src/model/init.ts';
import { generate } from '../../src/model/generate.ts';
import { sequenceLogprobs } from '../../src/model/logprobs.ts';
import { checkpointName, checkpointTarget, engineName, engineTarget } from '../../src/model/names.ts';
import { readSafetensors } from '../../src/model/safetensors.ts';
import { LoraAdapters, mergeAdapterDir } from '../../src/train/lora.ts';
import { selectParams } from '../../src/train/params.ts';
import { trainSft, validateSftConfig } from '../../src/train/sft.ts';
import { repoRoot } from '../helpers/cli.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'model', 'exaone-gqa');
const cfgJson = () => JSON.parse(readFileSync(join(FIX, 'config.json'), 'utf8')) as Record<string, unknown>;
const inputs = () => readFileSync(join(FIX, 'input.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ids: JSON.parse(l).input_ids as number[] }));
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
});

describe('EXAONE config.json', () => {
  it('reads num_layers, layer_norm_epsilon and activation_function; ties embeddings and sizes the MLP by its defaults', () => {
    const c = parseConfig(cfgJson(), 'config.json');
    expect(c).toMatchObject({ architecture: 'ExaoneForCausalLM', numLayers: 2, rmsNormEps: 1e-6, numHeads: 4, numKvHeads: 2, headDim: 16, tieWordEmbeddings: true, qkvBias: false, oBias: false });
    const { tie_word_embeddings: _t, intermediate_size: _i, ...bare } = cfgJson();
    const d = parseConfig(bare, 'config.json');
    expect(d.tieWordEmbeddings).toBe(true); // ExaoneConfig's default
    expect(d.intermediateSize).toBe(4 * 64);
    expect(parseConfig({ ...cfgJson(), tie_word_embeddings: false }).tieWordEmbeddings).toBe(false);
    expect(() => parseConfig({ ...cfgJson(), activation_function: 'gelu_new' }, 'c.json')).toThrow('c.json: "activation_function" "gelu_new" is not supported (expected "silu")');
    const { num_layers: _n, ...noLayers } = cfgJson();
    expect(() => parseConfig(noLayers, 'c.json')).toThrow('c.json: missing "num_layers" (expected a number)');
  });

  it('every engine parameter has one EXAONE name and back (a bijection over the whole model)', () => {
    const c = parseConfig({ ...cfgJson(), tie_word_embeddings: false });
    const names = [...paramShapes(c).keys()];
    const ckpt = names.map((n) => checkpointName(n, c));
    expect(new Set(ckpt).size).toBe(names.length);
    expect(ckpt.every((n) => n === 'lm_head.weight' || n.startsWith('transformer.'))).toBe(true);
    expect(ckpt.map((n) => engineName(n, c))).toEqual(names);
    expect(checkpointName('model.layers.1.mlp.gate_proj.weight', c)).toBe('transformer.h.1.mlp.c_fc_0.weight');
    expect(checkpointName('model.layers.1.mlp.up_proj.weight', c)).toBe('transformer.h.1.mlp.c_fc_1.weight');
    expect(checkpointName('model.layers.0.self_attn.o_proj', c)).toBe('transformer.h.0.attn.attention.out_proj');
    expect(['o_proj', 'gate_proj', 'up_proj', 'down_proj', 'q_proj'].map((t) => checkpointTarget(t, c))).toEqual(['out_proj', 'c_fc_0', 'c_fc_1', 'c_proj', 'q_proj']);
    expect(['out_proj', 'o_proj', 'c_fc_1'].map((t) => engineTarget(t, c))).toEqual(['o_proj', 'o_proj', 'up_proj']);
    // other layouts are untouched
    const llama = parseConfig(JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'model', 'llama-gqa', 'config.json'), 'utf8')));
    expect(checkpointName('model.layers.0.self_attn.o_proj.weight', llama)).toBe('model.layers.0.self_attn.o_proj.weight');
    expect(checkpointTarget('o_proj', llama)).toBe('o_proj');
  });
});

describe('EXAONE checkpoints', () => {
  it('save writes EXAONE names and config keys back, and the reload scores the same', async () => {
    const model = await loadModel(FIX);
    const before = await sequenceLogprobs(model, inputs(), { batchSize: 2 });
    const out = join(tmp('exaone-save-'), 'm');
    await saveModel(model, out);
    const keys = [...readSafetensors(join(out, 'model.safetensors')).keys()].sort();
    expect(keys).toEqual([...readSafetensors(join(FIX, 'model.safetensors')).keys()].sort());
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['ExaoneForCausalLM'], num_layers: 2, layer_norm_epsilon: 1e-6, activation_function: 'silu' });
    expect(cfg.num_hidden_layers).toBeUndefined();
    const back = await loadModel(out);
    const after = await sequenceLogprobs(back, inputs(), { batchSize: 2 });
    after.forEach((r, i) => r.tokenLogprobs.forEach((v, j) => expect(v).toBe(before[i]!.tokenLogprobs[j])));
    model.dispose();
    back.dispose();
  });

  it("LoRA takes EXAONE's module names, writes PEFT keys and target_modules as EXAONE's code names them, and merges back", async () => {
    const model = await loadModel(FIX);
    const cfg = { r: 2, alpha: 4, dropout: 0, target_modules: ['q_proj', 'out_proj', 'c_fc_0'], merge: false };
    const ad = LoraAdapters.create(model, cfg, 3);
    expect([...ad.modules.keys()].sort()).toEqual(
      [0, 1].flatMap((i) => [`model.layers.${i}.mlp.gate_proj`, `model.layers.${i}.self_attn.o_proj`, `model.layers.${i}.self_attn.q_proj`]).sort(),
    );
    for (const { B } of ad.modules.values()) B.assign(tf.fill(B.shape, 0.02));
    const dir = join(tmp('exaone-lora-'), 'adapter');
    await ad.save(dir, FIX);
    const saved = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect(saved.target_modules).toEqual(['c_fc_0', 'out_proj', 'q_proj']);
    const keys = [...readSafetensors(join(dir, 'adapter_model.safetensors')).keys()];
    expect(keys).toContain('base_model.model.transformer.h.1.attn.attention.out_proj.lora_A.weight');
    expect(keys).toContain('base_model.model.transformer.h.0.mlp.c_fc_0.lora_B.weight');
    expect(keys.every((k) => k.startsWith('base_model.model.transformer.h.'))).toBe(true);
    // the engine's own names are accepted too, and unknown names are refused in EXAONE's terms
    expect(LoraAdapters.create(model, { ...cfg, target_modules: ['o_proj'] }, 3).modules.size).toBe(2);
    expect(() => LoraAdapters.create(model, { ...cfg, target_modules: ['c_attn'] }, 3)).toThrow(
      "lora.target_modules: unknown module 'c_attn' (expected some of q_proj, k_proj, v_proj, out_proj, c_fc_0, c_fc_1, c_proj)",
    );
    const merged = join(tmp('exaone-merge-'), 'm');
    await mergeAdapterDir({ model: FIX, adapter: dir, out: merged, backend: 'wasm' });
    const m = readSafetensors(join(merged, 'model.safetensors'));
    const base = readSafetensors(join(FIX, 'model.safetensors'));
    const name = 'transformer.h.1.attn.attention.out_proj.weight';
    const { A, B } = ad.modules.get('model.layers.1.self_attn.o_proj')!;
    const delta = tf.matMul(B, A).dataSync();
    m.get(name)!.data.forEach((w, i) => expect(w).toBeCloseTo(base.get(name)!.data[i]! + 2 * delta[i]!, 5));
    // an untargeted weight is unchanged
    expect(Array.from(m.get('transformer.h.0.mlp.c_proj.weight')!.data)).toEqual(Array.from(base.get('transformer.h.0.mlp.c_proj.weight')!.data));
    ad.dispose();
    model.dispose();
  });

  it('trainable / param_groups regexes match EXAONE names as well as the engine ones', async () => {
    const model = await loadModel(FIX);
    const base = { paramGroups: [], learningRate: 1e-3, weightDecay: 0, tied: true, source: 'sft.yaml', alias: (n: string) => checkpointName(n, model.config) };
    const byExaone = selectParams(model.params, { ...base, trainable: ['^transformer\\.h\\.1\\.mlp\\.c_fc_0'] }).map((p) => p.name);
    expect(byExaone).toEqual(['model.layers.1.mlp.gate_proj.weight']);
    const both = selectParams(model.params, { ...base, trainable: ['layers.1'], paramGroups: [{ pattern: 'attn\\.attention', learning_rate: 1e-4 }] });
    expect(both.filter((p) => p.lr === 1e-4).map((p) => p.name).sort()).toEqual(['k_proj', 'o_proj', 'q_proj', 'v_proj'].map((x) => `model.layers.1.self_attn.${x}.weight`));
    expect(() => selectParams(model.params, { ...base, trainable: ['c_attn'] })).toThrow("sft.yaml: key 'trainable[0]': pattern 'c_attn' matches no parameter of the model");
    model.dispose();
  });

  it('model init --arch exaone makes an EXAONE directory that SFT with LoRA trains and saves in EXAONE layout', async () => {
    const dir = tmp('exaone-init-');
    const r = await initModelDir({ arch: 'exaone', vocab: 300, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64, seed: 1, out: join(dir, 'init') });
    expect(r.config).toMatchObject({ architectures: ['ExaoneForCausalLM'], model_type: 'exaone', num_layers: 2, activation_function: 'silu' });
    expect(r.config.num_hidden_layers).toBeUndefined();
    expect([...readSafetensors(join(dir, 'init', 'model.safetensors')).keys()].every((k) => k.startsWith('transformer.') || k === 'lm_head.weight')).toBe(true);
    const data = join(dir, 'sft.jsonl');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(data, [0, 1, 2, 3].map((i) => JSON.stringify({ prompt: `질문 ${i}`, completion: `답변 ${i}입니다.` })).join('\n') + '\n');
    const cfg = validateSftConfig({
      model: join(dir, 'init'), output_dir: join(dir, 'sft'), dataset: { path: data }, max_steps: 3, per_device_train_batch_size: 2,
      learning_rate: 0.01, max_length: 32, logging_steps: 1, save_steps: 100, backend: 'wasm',
      lora: { r: 2, alpha: 4, target_modules: ['q_proj', 'v_proj', 'c_fc_1'], merge: true },
    });
    const res = await trainSft(cfg, { log: () => {}, progress: false });
    const final = readSafetensors(join(res.finalDir, 'model.safetensors'));
    expect(final.has('transformer.h.1.mlp.c_fc_1.weight')).toBe(true);
    expect([...final.keys()].some((k) => k.startsWith('model.'))).toBe(false);
    const adapter = JSON.parse(readFileSync(join(dir, 'sft', 'adapter', 'adapter_config.json'), 'utf8'));
    expect(adapter.target_modules).toEqual(['c_fc_1', 'q_proj', 'v_proj']);
  });
});

describe('EXAONE 4.0 (Exaone4ForCausalLM)', () => {
  const FIX4 = join(repoRoot, 'test', 'fixtures', 'model');
  const cfg4 = (name: string) => JSON.parse(readFileSync(join(FIX4, name, 'config.json'), 'utf8')) as Record<string, unknown>;

  it('post-norm layers without input norms, QK-norm, and NoPE on the global layers of a hybrid model', () => {
    const c = parseConfig(cfg4('exaone4-hybrid'));
    expect(c).toMatchObject({ postNorm: true, qkNorm: true, slidingWindow: 3, slidingLayers: [true, false, true, false], noRopeLayers: [false, true, false, true], rmsNormEps: 1e-5 });
    const names = [...paramShapes(c).keys()];
    expect(names).toContain('model.layers.0.post_feedforward_layernorm.weight');
    expect(names.some((n) => n.includes('input_layernorm'))).toBe(false);
    // sliding_window null: every layer global, with RoPE
    const g = parseConfig(cfg4('exaone4-global'));
    expect(g.slidingWindow).toBeUndefined();
    expect(g.noRopeLayers).toBeUndefined();
  });

  it('reads layer_types, an integer or an L/G string pattern (last layer global), and names a bad pattern', () => {
    const base = { ...cfg4('exaone4-hybrid'), num_hidden_layers: 5 };
    expect(parseConfig({ ...base, sliding_window_pattern: 'LLG' }).slidingLayers).toEqual([true, true, false, true, false]);
    expect(parseConfig({ ...base, sliding_window_pattern: 4 }).slidingLayers).toEqual([true, true, true, false, true]);
    const lt = ['full_attention', 'sliding_attention', 'full_attention', 'full_attention', 'sliding_attention'];
    expect(parseConfig({ ...base, layer_types: lt }).noRopeLayers).toEqual([true, false, true, true, false]);
    expect(() => parseConfig({ ...base, sliding_window_pattern: 'LXG' }, 'c.json')).toThrow('c.json: "sliding_window_pattern" must be a positive integer or a string of L and G, got "LXG"');
  });

  it('greedy decoding gives the same tokens with and without the KV cache (window and NoPE layers included)', async () => {
    const model = await loadModel(join(FIX4, 'exaone4-hybrid'));
    const prompts = [[1, 2, 3, 4, 5], [9, 8]];
    const cached = await generate(model, prompts, { maxNewTokens: 8, useCache: true, eosTokenIds: [] });
    const full = await generate(model, prompts, { maxNewTokens: 8, useCache: false, eosTokenIds: [] });
    expect(cached.map((g) => g.tokens)).toEqual(full.map((g) => g.tokens));
    expect(cached[0]!.tokens).toHaveLength(8);
    model.dispose();
  });
});

