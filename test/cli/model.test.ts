import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, repoRoot } from '../helpers/cli.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { tokenizePromptCompletion } from '../../src/train/tokenize.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'model');
const tmp = () => mkdtempSync(join(tmpdir(), 'ko-align-cli-model-'));
const jsonl = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

function expectOneLineError(r: { code: number; stderr: string }, re: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^backend: /.test(l));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ko-align: error: /);
  expect(lines[0]).toMatch(re);
}

describe('ko-align model init / logprobs / generate', () => {
  let dir: string;
  let model: string;
  beforeAll(() => {
    dir = tmp();
    model = join(dir, 'tiny');
    const r = runCli(['model', 'init', '--arch', 'qwen2', '--out', model, '--vocab', '384', '--hidden', '32', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--intermediate', '64', '--seed', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('model init writes a Hugging Face model directory with a tokenizer', () => {
    expect(readdirSync(model).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['Qwen2ForCausalLM'], vocab_size: 384, hidden_size: 32, num_key_value_heads: 2, attention_bias: true });
    expect(typeof cfg.eos_token_id).toBe('number');
    expect(readdirSync(dir)).toEqual(['tiny']); // no temp directory left
  });

  for (const backend of ['wasm', 'cpu']) {
    it(`logprobs of input_ids rows match the PyTorch reference within 2e-3 on ${backend}`, () => {
      // the first rows of the golden input (the library test covers all rows on both backends)
      const d = tmp();
      const out = join(d, 'lp.jsonl');
      const input = join(d, 'in.jsonl');
      writeFileSync(input, readFileSync(join(FIX, 'llama-gqa', 'input.jsonl'), 'utf8').split('\n').slice(0, 6).join('\n') + '\n');
      const r = runCli(['logprobs', '--model', join(FIX, 'llama-gqa'), '--input', input, '--output', out, '--backend', backend]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(`backend: ${backend}\n`);
      const got = jsonl(out);
      const want = jsonl(join(FIX, 'llama-gqa', 'expected.jsonl')).slice(0, 6);
      const inp = jsonl(input);
      expect(got).toHaveLength(want.length);
      got.forEach((row, i) => {
        expect(row.input_ids).toEqual(inp[i].input_ids);
        expect(row.n_tokens).toBe(inp[i].input_ids.length - 1);
        row.token_logprobs.forEach((v: number, j: number) => expect(Math.abs(v - want[i].token_logprobs[j])).toBeLessThan(2e-3));
        expect(row.logp).toBeCloseTo(row.token_logprobs.reduce((a: number, b: number) => a + b, 0), 6);
      });
    });
  }

  it('logprobs of prompt/completion rows sum over the completion tokens; messages rows over the assistant tokens', async () => {
    const d = tmp();
    const input = join(d, 'in.jsonl');
    const rows = [
      { id: 1, prompt: '한국의 수도는 어디인가요?', completion: '서울입니다.' },
      { id: 2, messages: [{ role: 'user', content: '안녕하세요' }, { role: 'assistant', content: '반갑습니다. 무엇을 도와드릴까요?' }] },
    ];
    writeFileSync(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = runCli(['logprobs', '--model', model, '--input', input, '--output', join(d, 'out.jsonl'), '--backend', 'wasm']);
    expect(r.code).toBe(0);
    const [pc, chat] = jsonl(join(d, 'out.jsonl'));
    const tok = await loadTokenizer(model);
    const ids = tokenizePromptCompletion(tok, rows[0].prompt!, rows[0].completion!, { maxLength: 1e9 });
    expect(pc.id).toBe(1);
    expect(pc.n_tokens).toBe(ids.completion_ids.length);
    expect(pc.token_logprobs).toHaveLength(ids.prompt_ids.length + ids.completion_ids.length - 1);
    const tail = pc.token_logprobs.slice(ids.prompt_ids.length - 1).reduce((a: number, b: number) => a + b, 0);
    expect(pc.logp).toBeCloseTo(tail, 5);
    expect(chat.messages).toEqual(rows[1].messages);
    expect(chat.n_tokens).toBeGreaterThan(0);
    expect(chat.n_tokens).toBeLessThan(chat.token_logprobs.length);
    expect(chat.logp).toBeLessThan(0);
  });

  it('generate writes a generation and finish reason for text and chat prompts', async () => {
    const d = tmp();
    const input = join(d, 'prompts.jsonl');
    writeFileSync(input, [{ prompt: '오늘 날씨 어때?' }, { messages: [{ role: 'system', content: '친절하게 답하세요.' }, { role: 'user', content: '김치 만드는 법' }] }].map((r) => JSON.stringify(r)).join('\n'));
    const a = runCli(['generate', '--model', model, '--input', input, '--max-new-tokens', '6', '--batch-size', '2', '--backend', 'wasm', '--output', join(d, 'a.jsonl')]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(`wrote ${join(d, 'a.jsonl')}: 2 rows\n`);
    const rows = jsonl(join(d, 'a.jsonl'));
    expect(rows[0].prompt).toBe('오늘 날씨 어때?');
    expect(rows[1].messages[1].content).toBe('김치 만드는 법');
    expect(rows.every((r) => typeof r.generation === 'string' && ['eos', 'length'].includes(r.finish_reason))).toBe(true);
    // greedy: the same text the library produces for the same prompt
    const { loadModel } = await import('../../src/model/checkpoint.ts');
    const { generateTexts } = await import('../../src/model/generate.ts');
    const { initBackend } = await import('../../src/engine/backend.ts');
    await initBackend('wasm', { log: () => {} });
    const m = await loadModel(model);
    const [g] = await generateTexts(m, await loadTokenizer(model), ['오늘 날씨 어때?'], { maxNewTokens: 6 });
    expect(rows[0].generation).toBe(g.text);
    m.dispose();
  });

  it('a missing weights file: one line naming it, exit 1, no output', () => {
    const d = tmp();
    cpSync(join(FIX, 'llama-gqa', 'config.json'), join(d, 'config.json'));
    const out = join(d, 'out.jsonl');
    const r = runCli(['logprobs', '--model', d, '--input', join(FIX, 'llama-gqa', 'input.jsonl'), '--output', out]);
    expectOneLineError(r, /no weights file \(expected model\.safetensors/);
    expect(existsSync(out)).toBe(false);
  });

  it('a missing tensor: one line naming the tensor, exit 1, no output', () => {
    const d = tmp();
    cpSync(join(FIX, 'mistral-bf16-sharded'), d, { recursive: true });
    const idx = JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8'));
    delete idx.weight_map['model.layers.0.self_attn.k_proj.weight'];
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify(idx));
    const out = join(d, 'out.jsonl');
    const r = runCli(['logprobs', '--model', d, '--input', join(d, 'input.jsonl'), '--output', out, '--backend', 'wasm']);
    expectOneLineError(r, /missing tensor 'model\.layers\.0\.self_attn\.k_proj\.weight'/);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown architecture: one line naming it, exit 1, no output', () => {
    const d = tmp();
    cpSync(join(FIX, 'llama-gqa'), d, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, architectures: ['GPT2LMHeadModel'] }));
    const out = join(d, 'gen.jsonl');
    writeFileSync(join(d, 'p.jsonl'), '{"prompt":"안녕"}\n');
    const r = runCli(['generate', '--model', d, '--input', join(d, 'p.jsonl'), '--output', out]);
    expectOneLineError(r, /config\.json: unknown architecture 'GPT2LMHeadModel'/);
    expect(existsSync(out)).toBe(false);
  });

  it('an explicit webgpu backend without a GPU: one line, exit 1, no fallback', () => {
    const out = join(tmp(), 'out.jsonl');
    const r = runCli(['logprobs', '--model', join(FIX, 'llama-gqa'), '--input', join(FIX, 'llama-gqa', 'input.jsonl'), '--output', out, '--backend', 'webgpu']);
    expectOneLineError(r, /backend 'webgpu' is not available: no WebGPU adapter/);
    expect(existsSync(out)).toBe(false);
  });

  it('model merge folds a PEFT adapter (use_rslora) into the base and keeps its dtype', async () => {
    const { readSafetensors, writeSafetensors } = await import('../../src/model/safetensors.ts');
    const d = tmp();
    const adapter = join(d, 'adapter');
    const r = 2;
    const A = Float32Array.from({ length: r * 32 }, (_, i) => ((i % 7) - 3) / 10);
    const B = Float32Array.from({ length: 32 * r }, (_, i) => ((i % 5) - 2) / 10);
    // PEFT layout: adapter_config.json (peft_type, r, lora_alpha, use_rslora, target_modules) and
    // base_model.model.<module>.lora_A.weight [r, in] / lora_B.weight [out, r]
    const { mkdirSync } = await import('node:fs');
    mkdirSync(adapter);
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r, lora_alpha: 4, lora_dropout: 0, target_modules: ['q_proj'], use_rslora: true }));
    await writeSafetensors(join(adapter, 'adapter_model.safetensors'), {
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { shape: [r, 32], data: A },
      'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': { shape: [32, r], data: B },
    });
    const res = runCli(['model', 'merge', '--model', model, '--adapter', adapter, '--out', join(d, 'merged'), '--backend', 'cpu']);
    expect(res.stderr.split('\n').filter((l) => l && !/^backend: /.test(l))).toEqual([]);
    expect(res.stdout).toMatch(/1 adapted projections merged/);
    const name = 'model.layers.0.self_attn.q_proj.weight';
    const w0 = readSafetensors(join(model, 'model.safetensors')).get(name)!.data;
    const w1 = readSafetensors(join(d, 'merged', 'model.safetensors')).get(name)!.data;
    const scale = 4 / Math.sqrt(r);
    for (let o = 0; o < 32; o += 7) {
      for (let i = 0; i < 32; i += 5) {
        let ba = 0;
        for (let k = 0; k < r; k++) ba += B[o * r + k] * A[k * 32 + i];
        expect(w1[o * 32 + i]).toBeCloseTo(w0[o * 32 + i] + scale * ba, 5);
      }
    }
    expect(readdirSync(join(d, 'merged'))).toContain('tokenizer.json');
  });

  it('a row in no known format is named with its row number', () => {
    const d = tmp();
    writeFileSync(join(d, 'in.jsonl'), '{"input_ids":[1,2]}\n{"텍스트":"없음"}\n');
    const r = runCli(['logprobs', '--model', join(FIX, 'llama-gqa'), '--input', join(d, 'in.jsonl'), '--output', join(d, 'o.jsonl')]);
    expectOneLineError(r, /in\.jsonl: row 2: expected "input_ids", "prompt" \+ "completion", "messages", sharegpt "conversations" or alpaca "instruction"/);
  });
});
