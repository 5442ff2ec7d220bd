import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom, defaultTokenizerCorpus, initModelDir, randomModelTensors, tinyConfigJson, BUILTIN_KOREAN_CORPUS } from '../../src/model/init.ts';
import { UserError } from '../../src/util/errors.ts';
import { errorOf } from '../helpers/errors.ts';
import { parseConfig, countParams } from '../../src/model/config.ts';

const spec = { arch: 'qwen3' as const, vocab: 300, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, headDim: 12 };

describe('random tiny models', () => {
  it('the seeded generator is reproducible and roughly standard normal', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const xs = Array.from({ length: 20000 }, () => a.normal());
    expect(xs.slice(0, 50)).toEqual(Array.from({ length: 50 }, () => b.normal()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    expect(new SeededRandom(43).normal()).not.toBe(new SeededRandom(42).normal());
  });

  it('weights follow llama_ref make: N(0, 0.08) for matrices, 1 + N(0, 0.08) for norms, every tensor of the config', () => {
    const { config, tensors } = randomModelTensors(spec, 1);
    expect(config.headDim).toBe(12);
    let n = 0;
    for (const t of tensors.values()) n += t.data.length;
    expect(n).toBe(countParams(config));
    const w = tensors.get('model.layers.0.mlp.up_proj.weight')!.data;
    const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(sd).toBeGreaterThan(0.07);
    expect(sd).toBeLessThan(0.09);
    const norm = tensors.get('model.layers.1.self_attn.k_norm.weight')!.data;
    expect(norm.reduce((s, x) => s + x, 0) / norm.length).toBeCloseTo(1, 1);
    expect(randomModelTensors(spec, 1).tensors.get('model.embed_tokens.weight')!.data).toEqual(tensors.get('model.embed_tokens.weight')!.data);
    expect(randomModelTensors(spec, 2).tensors.get('model.embed_tokens.weight')!.data).not.toEqual(tensors.get('model.embed_tokens.weight')!.data);
  });

  it('the config.json matches what llama_ref make writes, and bad sizes are named by flag', () => {
    const cfg = tinyConfigJson({ ...spec, arch: 'qwen2' });
    expect(cfg).toMatchObject({ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', attention_bias: true, head_dim: 12, rms_norm_eps: 1e-6, tie_word_embeddings: false });
    expect(parseConfig(cfg).qkvBias).toBe(true);
    expect(() => tinyConfigJson({ ...spec, kvHeads: 3 })).toThrow(/--heads \(4\) must be a multiple of --kv-heads \(3\)/);
    expect(() => tinyConfigJson({ ...spec, hidden: 0 })).toThrow(/--hidden: expected a positive integer/);
    expect(() => tinyConfigJson({ ...spec, headDim: undefined, hidden: 36, heads: 4 })).toThrow(/even integer head size/);
    // transformers configuration_utils validate_token_ids: a *_token_id must lie in [0, vocab_size - 1]
    expect(() => tinyConfigJson({ ...spec, bosTokenId: spec.vocab })).toThrow(new RegExp(`bos_token_id ${spec.vocab} is outside the vocabulary`));
    expect(() => tinyConfigJson({ ...spec, ropeTheta: 0 })).toThrow(/--rope-theta: expected a positive number/);
  });

  it('model init writes bos_token_id (<|endoftext|>, as Qwen2.5 does) in config.json and generation_config.json', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ko-align-init-')), 'm');
    const r = await initModelDir({ ...spec, arch: 'qwen2', vocab: 300, out, corpus: [...BUILTIN_KOREAN_CORPUS] });
    const tc = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
    const endoftext = tc.added_tokens.find((t) => t.content === '<|endoftext|>')!.id;
    expect(r.config.bos_token_id).toBe(endoftext);
    expect(JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')).bos_token_id).toBe(endoftext);
    expect(parseConfig(r.config).bosTokenId).toBe(endoftext);
  });

  it('the tokenizer corpus is the built-in Korean text plus dataset strings, nested messages included', () => {
    const d = mkdtempSync(join(tmpdir(), 'ko-align-corpus-'));
    writeFileSync(join(d, 'a.jsonl'), '{"prompt":"부산 여행 추천해 줘","n":3}\n{"messages":[{"role":"user","content":"점심 메뉴는?"}]}\nnot json\n');
    const c = defaultTokenizerCorpus(d);
    expect(c.slice(0, BUILTIN_KOREAN_CORPUS.length)).toEqual([...BUILTIN_KOREAN_CORPUS]);
    expect(c).toContain('부산 여행 추천해 줘');
    expect(c).toContain('점심 메뉴는?');
    expect(defaultTokenizerCorpus(join(d, 'missing'))).toEqual([...BUILTIN_KOREAN_CORPUS]);
  });
});

describe('model init --out never deletes a directory it did not write', () => {
  const tiny = { arch: 'llama' as const, vocab: 300, hidden: 16, layers: 1, heads: 2, kvHeads: 1, intermediate: 32, corpus: ['안녕하세요 반갑습니다', '한국어 토크나이저 학습용 문장입니다'] };

  it('refuses a non-empty directory that is not a model directory, and leaves it untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-init-guard-'));
    writeFileSync(join(dir, '논문.txt'), '소중한 원고');
    mkdirSync(join(dir, 'data'));
    const e = await errorOf(initModelDir({ ...tiny, out: dir }));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/^--out .*: not empty and not a model directory \(holds '(data|논문\.txt)', '(data|논문\.txt)'\); refusing to replace it: .*--force/);
    expect(readFileSync(join(dir, '논문.txt'), 'utf8')).toBe('소중한 원고');
    expect(readdirSync(dir).sort()).toEqual(['data', '논문.txt']);
  });

  it('replaces an empty directory or a model directory it wrote; --force replaces anything', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ko-align-init-ok-'));
    const out = join(parent, 'model');
    await initModelDir({ ...tiny, out });
    await initModelDir({ ...tiny, out, seed: 1 });
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    writeFileSync(join(out, 'memo.txt'), '메모');
    await expect(initModelDir({ ...tiny, out })).rejects.toThrow(/not a model directory \(holds 'memo\.txt'\)/);
    await initModelDir({ ...tiny, out, force: true });
    expect(existsSync(join(out, 'memo.txt'))).toBe(false);
  });
});
