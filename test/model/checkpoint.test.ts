import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel, saveModel } from '../../src/model/checkpoint.ts';
import { sequenceLogprobs } from '../../src/model/logprobs.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors.ts';
import { loadConfig, parseConfig, paramShapes, countParams } from '../../src/model/config.ts';
import { UserError } from '../../src/util/errors.ts';
import { repoRoot } from '../helpers/cli.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'model');
const tmp = () => mkdtempSync(join(tmpdir(), 'ko-align-ckpt-'));

describe('config.json parsing', () => {
  const base = JSON.parse(readFileSync(join(FIX, 'llama-gqa', 'config.json'), 'utf8'));

  it('reads GQA, rope theta, tied embeddings and explicit head_dim', () => {
    const c = loadConfig(join(FIX, 'qwen3-headdim', 'config.json'));
    expect(c.architecture).toBe('Qwen3ForCausalLM');
    expect(c.headDim).toBe(24);
    expect(c.hiddenSize / c.numHeads).not.toBe(c.headDim);
    expect(c.qkNorm).toBe(true);
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.ropeTheta).toBe(1000000);
    const shapes = paramShapes(c);
    expect(shapes.get('model.layers.0.self_attn.q_proj.weight')).toEqual([4 * 24, 64]);
    expect(shapes.get('model.layers.0.self_attn.k_proj.weight')).toEqual([2 * 24, 64]);
    expect(shapes.get('model.layers.1.self_attn.q_norm.weight')).toEqual([24]);
    expect(shapes.has('lm_head.weight')).toBe(false);
  });

  it('Qwen2 has q/k/v biases but no o_proj bias; Llama has none', () => {
    const q = paramShapes(loadConfig(join(FIX, 'qwen2-bias', 'config.json')));
    expect(q.get('model.layers.0.self_attn.k_proj.bias')).toEqual([2 * 16]);
    expect(q.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect([...paramShapes(parseConfig(base)).keys()].some((k) => k.endsWith('.bias'))).toBe(false);
  });

  it('counts parameters like the reference', () => {
    expect(countParams(parseConfig(base))).toBe(106816); // llama_ref.py make printed this
  });

  it('an unknown architecture is refused by name', () => {
    expect(() => parseConfig({ ...base, architectures: ['GPTNeoXForCausalLM'] }, 'm/config.json')).toThrow(
      /m\/config\.json: unknown architecture 'GPTNeoXForCausalLM' \(supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, ExaoneForCausalLM, Exaone4ForCausalLM\)/,
    );
  });

  it('missing or mistyped keys and bad head counts are named', () => {
    const { hidden_size: _h, ...noHidden } = base;
    expect(() => parseConfig(noHidden, 'c.json')).toThrow(/c\.json: missing "hidden_size"/);
    expect(() => parseConfig({ ...base, num_key_value_heads: 3 }, 'c.json')).toThrow(/must be a multiple of "num_key_value_heads" \(3\)/);
    expect(() => parseConfig({ ...base, hidden_act: 'gelu' }, 'c.json')).toThrow(/"hidden_act" "gelu" is not supported/);
    expect(() => parseConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'c.json')).toThrow(/rope_scaling" rope_type 'yarn' is not implemented/);
  });
});

describe('checkpoints', () => {
  beforeAll(async () => {
    await initBackend('wasm', { log: () => {} });
  });

  it('save then load gives identical weights and log-probs, with tokenizer files copied and no temp dirs left', async () => {
    const src = tmp();
    cpSync(join(FIX, 'qwen2-bias'), src, { recursive: true });
    writeFileSync(join(src, 'tokenizer.json'), '{"토큰":1}');
    writeFileSync(join(src, 'generation_config.json'), '{"eos_token_id":2}');
    const m = await loadModel(src);
    const out = join(tmp(), 'saved');
    await saveModel(m, out, { tokenizerFrom: src });
    expect(readdirSync(out).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json']);
    expect(readdirSync(join(out, '..'))).toEqual(['saved']);
    const a = readSafetensors(join(src, 'model.safetensors'));
    const b = readSafetensors(join(out, 'model.safetensors'));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(Array.from(b.get(k)!.data)).toEqual(Array.from(v.data));
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.architectures).toEqual(['Qwen2ForCausalLM']);
    const m2 = await loadModel(out);
    const seq = [{ ids: [3, 1, 4, 1, 5, 9, 2, 6] }];
    expect((await sequenceLogprobs(m2, seq))[0].tokenLogprobs).toEqual((await sequenceLogprobs(m, seq))[0].tokenLogprobs);
    // saving again over an existing directory replaces it
    await saveModel(m2, out);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors']);
    m.dispose();
    m2.dispose();
  });

  it('a BF16 model is written back BF16, byte for byte, with torch_dtype kept; dtype float32 on request', async () => {
    // transformers configuration_utils.py reads `dtype` and the legacy `torch_dtype`; safetensors
    // dtype strings: "BF16", "F16", "F32" (safetensors docs, the header format).
    const src = join(FIX, 'mistral-bf16-sharded');
    const m = await loadModel(src);
    const out = join(tmp(), 'bf16');
    await saveModel(m, out);
    const h = readSafetensorsHeader(join(out, 'model.safetensors'));
    expect(new Set([...h.tensors.values()].map((t) => t.dtype))).toEqual(new Set(['BF16']));
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.torch_dtype).toBe('bfloat16');
    expect('dtype' in cfg).toBe(false);
    // the saved bytes are the source's BF16 bytes (bf16 -> f32 -> bf16 is exact)
    const rawBytes = (file: string, name: string) => {
      const e = readSafetensorsHeader(file).tensors.get(name)!;
      return readFileSync(file).subarray(e.begin, e.end);
    };
    const index = JSON.parse(readFileSync(join(src, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>;
    for (const name of ['model.embed_tokens.weight', 'model.layers.1.self_attn.k_proj.weight', 'model.norm.weight']) {
      expect(Buffer.compare(rawBytes(join(out, 'model.safetensors'), name), rawBytes(join(src, index[name]), name))).toBe(0);
    }
    const f32 = join(tmp(), 'f32');
    await saveModel(m, f32, { dtype: 'float32' });
    expect(readSafetensorsHeader(join(f32, 'model.safetensors')).tensors.get('model.norm.weight')!.dtype).toBe('F32');
    expect(JSON.parse(readFileSync(join(f32, 'config.json'), 'utf8')).torch_dtype).toBe('float32');
    m.dispose();
  });

  it('config.json in transformers 5 form (`dtype`) keeps `dtype` and `torch_dtype` consistent', async () => {
    const src = tmp();
    cpSync(join(FIX, 'qwen2-bias'), src, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    delete cfg.torch_dtype;
    writeFileSync(join(src, 'config.json'), JSON.stringify({ ...cfg, dtype: 'bfloat16' }));
    const m = await loadModel(src);
    const out = join(tmp(), 'v5');
    await saveModel(m, out);
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect([saved.dtype, 'torch_dtype' in saved]).toEqual(['bfloat16', false]);
    expect(readSafetensorsHeader(join(out, 'model.safetensors')).tensors.get('model.norm.weight')!.dtype).toBe('BF16');
    await saveModel(m, out, { dtype: 'float16' });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).dtype).toBe('float16');
    expect(readSafetensorsHeader(join(out, 'model.safetensors')).tensors.get('model.norm.weight')!.dtype).toBe('F16');
    m.dispose();
  });

  it('a missing tensor is refused by name', async () => {
    const d = tmp();
    cpSync(join(FIX, 'llama-gqa'), d, { recursive: true });
    const t = readSafetensors(join(d, 'model.safetensors'));
    t.delete('model.layers.1.mlp.up_proj.weight');
    await writeSafetensors(join(d, 'model.safetensors'), t);
    await expect(loadModel(d)).rejects.toThrow(/model\.safetensors: missing tensor 'model\.layers\.1\.mlp\.up_proj\.weight'/);
  });

  it('a tensor whose shape disagrees with config.json is refused by name', async () => {
    const d = tmp();
    cpSync(join(FIX, 'llama-gqa'), d, { recursive: true });
    const t = readSafetensors(join(d, 'model.safetensors'));
    t.set('model.norm.weight', { shape: [3], data: new Float32Array(3) });
    await writeSafetensors(join(d, 'model.safetensors'), t);
    await expect(loadModel(d)).rejects.toThrow(/tensor 'model\.norm\.weight' has shape \[3\], expected \[64\] from config\.json/);
  });

  it('NaN weights are refused by tensor name (logprobs would write logp: null and exit 0)', async () => {
    const d = tmp();
    cpSync(join(FIX, 'llama-gqa'), d, { recursive: true });
    const t = readSafetensors(join(d, 'model.safetensors'));
    const w = t.get('model.layers.0.self_attn.k_proj.weight')!;
    w.data[5] = NaN;
    await writeSafetensors(join(d, 'model.safetensors'), t);
    await expect(loadModel(d)).rejects.toThrow(UserError);
    await expect(loadModel(d)).rejects.toThrow(`${join(d, 'model.safetensors')}: tensor 'model.layers.0.self_attn.k_proj.weight' holds NaN weights (first at element 5)`);
  });

  it('a missing weights file or model directory is a UserError', async () => {
    const d = tmp();
    cpSync(join(FIX, 'llama-gqa', 'config.json'), join(d, 'config.json'));
    await expect(loadModel(d)).rejects.toThrow(UserError);
    await expect(loadModel(d)).rejects.toThrow(/no weights file \(expected model\.safetensors or model\.safetensors\.index\.json\)/);
    await expect(loadModel(join(d, 'nope'))).rejects.toThrow(/model directory not found/);
    expect(existsSync(join(d, 'model.safetensors'))).toBe(false);
  });
});

const PY = '/usr/bin/python3';
const REF = '/work/shared/reference/llama_ref.py';
const hasTorch = existsSync(PY) && existsSync(REF) && spawnSync(PY, ['-c', 'import torch'], { timeout: 60_000 }).status === 0;

describe('interop with the PyTorch reference (skipped where it is not installed)', () => {
  it.skipIf(!hasTorch)('a checkpoint we save (after changing weights) is read by llama_ref.py and scores like ours', async () => {
    await initBackend('wasm', { log: () => {} });
    const m = await loadModel(join(FIX, 'qwen2-bias'));
    const w = m.params.get('model.layers.0.self_attn.q_proj.bias')!;
    w.assign(w.add(0.5));
    const out = join(tmp(), 'saved');
    await saveModel(m, out);
    const input = join(FIX, 'qwen2-bias', 'input.jsonl');
    const r = spawnSync(PY, [REF, 'logprobs', '--model', out, '--input', input], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    const want = r.stdout.trim().split('\n').map((l) => JSON.parse(l).token_logprobs as number[]);
    const ids = readFileSync(input, 'utf8').trim().split('\n').map((l) => ({ ids: JSON.parse(l).input_ids as number[] }));
    const got = await sequenceLogprobs(m, ids);
    got.forEach((g, i) => g.tokenLogprobs.forEach((v, j) => expect(Math.abs(v - want[i][j])).toBeLessThan(2e-3)));
    const orig = readFileSync(join(FIX, 'qwen2-bias', 'expected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).token_logprobs as number[]);
    const moved = Math.max(...want.flatMap((row, i) => row.map((v, j) => Math.abs(v - orig[i][j]))));
    expect(moved).toBeGreaterThan(1e-3); // the change reached the file
    m.dispose();
  });
});
