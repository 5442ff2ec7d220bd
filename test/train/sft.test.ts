import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { BUILTIN_KOREAN_CORPUS, initModelDir } from '../../src/model/init.ts';
import { readSafetensors, readSafetensorsHeader } from '../../src/model/safetensors.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { IGNORE_INDEX } from '../../src/train/data.ts';
import { LoraAdapters } from '../../src/train/lora.ts';
import { loadSftConfig, prepareSftData, trainSft, validateSftConfig } from '../../src/train/sft.ts';
import { repoRoot } from '../helpers/cli.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'train');
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `ko-align-${p}-`));
let modelDir = '';
let dataPath = '';

const ROWS = [
  { instruction: '한국의 수도는 어디인가요?', output: '한국의 수도는 서울입니다.' },
  { instruction: '김치는 어떤 음식인가요?', output: '배추를 발효시킨 한국의 전통 음식입니다.' },
  { instruction: '봄에는 무엇이 피나요?', output: '봄에는 벚꽃이 핍니다.' },
  { instruction: '건강을 위해 무엇이 중요한가요?', input: '짧게 답해 주세요.', output: '충분한 수면과 꾸준한 운동입니다.' },
  { instruction: '부산은 무엇으로 유명한가요?', output: '바다와 항구로 유명합니다.' },
  { instruction: '회의는 언제 시작하나요?', output: '오후 세 시에 시작합니다.' },
];

beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
  const dir = tmp('sft-model');
  modelDir = join(dir, 'model');
  await initModelDir({ arch: 'llama', vocab: 400, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64, out: modelDir, corpus: [...BUILTIN_KOREAN_CORPUS] });
  dataPath = join(dir, 'ko.jsonl');
  writeFileSync(dataPath, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
});

const cfgFor = (out: string, over: Record<string, unknown> = {}) =>
  validateSftConfig({
    model: modelDir, output_dir: out, dataset: { path: dataPath }, max_steps: 3, per_device_train_batch_size: 3,
    learning_rate: 0.01, lr_scheduler_type: 'constant', logging_steps: 1, save_steps: 0, backend: 'wasm', max_length: 64, ...over,
  });

describe('chat-template masking', () => {
  it('trains only the assistant answer and its end-of-turn token of Korean alpaca rows', async () => {
    const tok = await loadTokenizer(modelDir);
    const data = await prepareSftData(cfgFor(tmp('mask'), { max_length: 512 }), tok);
    expect(data.train).toHaveLength(ROWS.length);
    data.train.forEach((ex, i) => {
      const trained = ex.input_ids.filter((_, t) => ex.labels[t] !== IGNORE_INDEX);
      expect(tok.decode(trained)).toBe(`${ROWS[i].output}<|im_end|>`);
      // the question is in the input but never in the labels
      expect(tok.decode(ex.input_ids)).toContain(ROWS[i].instruction);
    });
  });
});

describe('multi-turn masking', () => {
  it('assistant_only_loss: trains every assistant turn of a messages row and no system or user turn', async () => {
    const tok = await loadTokenizer(modelDir);
    const path = join(tmp('multi'), 'chat.jsonl');
    const messages = [
      { role: 'system', content: '친절한 비서입니다.' },
      { role: 'user', content: '안녕하세요?' },
      { role: 'assistant', content: '안녕하세요! 무엇을 도와드릴까요?' },
      { role: 'user', content: '서울의 날씨는 어떤가요?' },
      { role: 'assistant', content: '오늘은 맑습니다.' },
    ];
    writeFileSync(path, `${JSON.stringify({ messages })}\n`);
    const data = await prepareSftData(cfgFor(tmp('multi-out'), { dataset: { path }, max_length: 512, assistant_only_loss: true }), tok);
    const ex = data.train[0];
    const trained = ex.input_ids.filter((_, t) => ex.labels[t] !== IGNORE_INDEX);
    expect(tok.decode(trained)).toBe('안녕하세요! 무엇을 도와드릴까요?<|im_end|>오늘은 맑습니다.<|im_end|>');
  });

  // TRL SFTTrainer (trl/trainer/sft_trainer.py tokenize_fn, lines 1457-1513 at f2cd577):
  // conversations train the whole sequence unless assistant_only_loss (our default: true, the
  // method trains answers); prompt-completion rows
  // train the completion unless completion_only_loss is false; {"text"} rows are language
  // modelling with eos appended when missing (add_eos, 1439-1441).
  it("assistant_only_loss: false (TRL's default; ours is true): a messages row trains its whole rendered conversation", async () => {
    const tok = await loadTokenizer(modelDir);
    const path = join(tmp('whole'), 'chat.jsonl');
    const messages = [
      { role: 'user', content: '안녕하세요?' },
      { role: 'assistant', content: '반갑습니다.' },
    ];
    writeFileSync(path, `${JSON.stringify({ messages })}\n`);
    const assistantOnly = (await prepareSftData(cfgFor(tmp('whole-out0'), { dataset: { path }, max_length: 512 }), tok)).train[0];
    expect(assistantOnly.labels.filter((l) => l !== IGNORE_INDEX).length).toBeLessThan(assistantOnly.input_ids.length);
    const ex = (await prepareSftData(cfgFor(tmp('whole-out'), { dataset: { path }, max_length: 512, assistant_only_loss: false }), tok)).train[0];
    expect(ex.labels).toEqual(ex.input_ids);
    expect(tok.decode(ex.input_ids)).toBe(tok.applyChatTemplate(messages));
  });

  it('reads a LLaMA-Factory dataset_info.json entry (dataset.name) and a Hugging Face shard folder', async () => {
    const tok = await loadTokenizer(modelDir);
    const dir = tmp('lf');
    // LLaMA-Factory data/README.md: {"name": {"file_name", "columns": {"prompt", "response"}}}
    writeFileSync(join(dir, 'dataset_info.json'), JSON.stringify({ ko: { file_name: 'ko.json', columns: { prompt: '질문', response: '답' } } }));
    writeFileSync(join(dir, 'ko.json'), JSON.stringify(ROWS.map((r) => ({ 질문: r.instruction, 답: r.output }))));
    const lf = await prepareSftData(cfgFor(tmp('lf-out'), { dataset: { path: join(dir, 'dataset_info.json'), name: 'ko' }, max_length: 512 }), tok);
    expect(lf.train).toHaveLength(ROWS.length);
    lf.train.forEach((ex, i) => expect(tok.decode(ex.input_ids.filter((_, t) => ex.labels[t] !== IGNORE_INDEX))).toBe(`${ROWS[i].output}<|im_end|>`));
    // the same rows as Parquet shards of a Hugging Face dataset folder
    const { writeRows } = await import('../../src/data/io.ts');
    const hf = tmp('hf');
    await writeRows(join(hf, 'data', 'train-00000-of-00002.parquet'), ROWS.slice(0, 3));
    await writeRows(join(hf, 'data', 'train-00001-of-00002.parquet'), ROWS.slice(3));
    const fromHf = await prepareSftData(cfgFor(tmp('hf-out'), { dataset: { path: hf }, max_length: 512 }), tok);
    const direct = await prepareSftData(cfgFor(tmp('hf-direct'), { max_length: 512 }), tok);
    expect(fromHf.train).toEqual(direct.train);
  });

  it('completion_only_loss false trains prompt and completion of alpaca rows', async () => {
    const tok = await loadTokenizer(modelDir);
    const data = await prepareSftData(cfgFor(tmp('co'), { max_length: 512, completion_only_loss: false }), tok);
    for (const ex of data.train) expect(ex.labels).toEqual(ex.input_ids);
  });

  it('{"text"} rows train as language modelling: the text plus eos, no chat template', async () => {
    const tok = await loadTokenizer(modelDir);
    const path = join(tmp('lm'), 'text.jsonl');
    writeFileSync(path, `${JSON.stringify({ text: '한국어 문장을 그대로 학습합니다.' })}\n${JSON.stringify({ 본문: '다른 열 이름' })}\n`);
    const data = await prepareSftData(cfgFor(tmp('lm-out'), { dataset: { path, format: 'text' }, max_length: 512 }), tok).catch((e) => e);
    expect(String(data)).toMatch(/row 2: 'text' must be a string \(dataset_text_field\)/);
    writeFileSync(path, `${JSON.stringify({ 본문: '한국어 문장을 그대로 학습합니다.' })}\n`);
    const ex = (await prepareSftData(cfgFor(tmp('lm-out2'), { dataset: { path }, max_length: 512, dataset_text_field: '본문' }), tok)).train[0];
    expect(ex.labels).toEqual(ex.input_ids);
    expect(tok.decode(ex.input_ids)).toBe(`한국어 문장을 그대로 학습합니다.${tok.eosToken}`);
  });
});

describe('trainSft end to end', () => {
  it('writes metrics.jsonl with the HF names, eval_loss from a held-out split, and a loadable final model', async () => {
    const out = tmp('e2e');
    const logs: string[] = [];
    const res = await trainSft(cfgFor(out, { dataset: { path: dataPath, eval_fraction: 0.34 }, eval_steps: 2, neftune_noise_alpha: 8, packing: true }), { log: (m) => logs.push(m) });
    // What is on, said once at the start.
    const settings = logs.filter((l) => l.startsWith('sft: settings:'));
    expect(settings).toEqual([
      'sft: settings: NEFTune alpha 8 | full fine-tuning | batch 3 x 1 accumulation = 3 per step | lr 0.01 constant, weight decay 0 | max_length 64, packed | max_steps 3, seed 42 | backend wasm',
    ]);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
    for (const l of lines) for (const k of ['epoch', 'loss', 'learning_rate', 'grad_norm', 'tokens_per_second']) expect(Number.isFinite(l[k])).toBe(true);
    expect(lines.filter((l) => 'eval_loss' in l).map((l) => l.step)).toEqual([2, 3]);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(existsSync(join(res.finalDir, f))).toBe(true);
    const m = await loadModel(res.finalDir);
    expect(m.numParams()).toBe(44192);
    m.dispose();
  });
});

describe('staged training (trainable / param_groups)', () => {
  it('leaves frozen tensors bit-identical and trains the selected ones', async () => {
    const out = tmp('freeze');
    const res = await trainSft(cfgFor(out, { trainable: ['layers.odd', 'lm_head'], weight_decay: 0.1 }), { log: () => {} });
    const before = readSafetensors(join(modelDir, 'model.safetensors'));
    const after = readSafetensors(join(res.finalDir, 'model.safetensors'));
    for (const [name, t] of before) {
      const same = Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), Buffer.from(after.get(name)!.data.buffer, after.get(name)!.data.byteOffset, after.get(name)!.data.byteLength)) === 0;
      const trained = name.startsWith('model.layers.1.') || name === 'lm_head.weight';
      expect(same, name).toBe(!trained);
    }
  });

  it('gives each param_groups pattern its own learning rate (lr 0 leaves a group unchanged)', async () => {
    const res = await trainSft(cfgFor(tmp('groups'), { param_groups: [{ pattern: 'mlp', learning_rate: 0 }] }), { log: () => {} });
    const before = readSafetensors(join(modelDir, 'model.safetensors'));
    const after = readSafetensors(join(res.finalDir, 'model.safetensors'));
    for (const [name, t] of before) {
      const changed = t.data.some((v, i) => v !== after.get(name)!.data[i]);
      expect(changed, name).toBe(!name.includes('.mlp.'));
    }
  });
});

describe('LoRA', () => {
  it('saves a PEFT adapter whose hooked forward equals the merged model, and merge: true writes that model', async () => {
    const lora = { r: 4, alpha: 8, dropout: 0.1, target_modules: ['q_proj', 'v_proj', 'down_proj'] };
    const outA = tmp('lora-a');
    const logsA: string[] = [];
    const a = await trainSft(cfgFor(outA, { lora: { ...lora, merge: false } }), { log: (m) => logsA.push(m) });
    expect(logsA.find((l) => l.startsWith('sft: settings:'))).toMatch(/^sft: settings: NEFTune off \| LoRA r 4 alpha 8 dropout 0\.1 on q_proj,v_proj,down_proj \| batch 3 x 1 accumulation = 3 per step \| .*backend wasm$/);
    const cfg = JSON.parse(readFileSync(join(a.finalDir, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['down_proj', 'q_proj', 'v_proj'] });
    const keys = [...readSafetensorsHeader(join(a.finalDir, 'adapter_model.safetensors')).tensors.keys()];
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(keys).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
    expect(keys).toHaveLength(2 * 3 * 2);

    const base = await loadModel(modelDir);
    const ad = LoraAdapters.load(a.finalDir, base);
    const ids = tf.tensor2d([[5, 17, 42, 99, 7, 3]], [1, 6], 'int32');
    const hooked = base.forward(ids, { linearHook: ad.hook() });
    const plain = base.forward(ids);
    expect(tf.max(tf.abs(tf.sub(hooked, plain))).dataSync()[0]).toBeGreaterThan(1e-4); // the adapters learned something
    ad.mergeInto(base);
    const merged = base.forward(ids);
    expect(tf.max(tf.abs(tf.sub(hooked, merged))).dataSync()[0]).toBeLessThan(1e-4);

    // The same run with merge: true writes that merged model as final/ and the adapter beside it.
    const outB = tmp('lora-b');
    const b = await trainSft(cfgFor(outB, { lora: { ...lora, merge: true } }), { log: () => {} });
    expect(existsSync(join(outB, 'adapter', 'adapter_model.safetensors'))).toBe(true);
    const mergedDisk = await loadModel(b.finalDir);
    const fromDisk = mergedDisk.forward(ids);
    expect(tf.max(tf.abs(tf.sub(fromDisk, merged))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([ids, hooked, plain, merged, fromDisk]);
    base.dispose();
    mergedDisk.dispose();
    ad.dispose();
  });
});

describe('TRL keys with no effect', () => {
  it('trainSft logs one warning line per accepted key that changes nothing (TRL SFTConfig bf16, report_to)', async () => {
    const logs: string[] = [];
    await trainSft(cfgFor(tmp('warn'), { bf16: true, report_to: ['wandb'], gradient_checkpointing: false, max_steps: 1 }), { log: (l) => logs.push(l) });
    const warnings = logs.filter((l) => l.startsWith('sft: warning: '));
    expect(warnings).toEqual([
      "sft: warning: config: 'bf16' is accepted but has no effect here: training computes in float32; the checkpoint keeps the model dtype (save_dtype chooses)",
      "sft: warning: config: 'report_to' is accepted but has no effect here: metrics go to output_dir/metrics.jsonl",
    ]);
  });
});

describe('train sft --adapter', () => {
  it('continues training a PEFT adapter with its own r / alpha / use_rslora, starting from its weights', async () => {
    const first = await trainSft(cfgFor(tmp('ad-a'), { lora: { r: 4, alpha: 8, dropout: 0, target_modules: ['q_proj'], merge: false, use_rslora: true } }), { log: () => {} });
    const cfg = cfgFor(tmp('ad-b'), { adapter: first.finalDir, max_steps: 1 });
    expect(cfg.adapter).toBe(first.finalDir);
    const second = await trainSft(cfg, { log: () => {} });
    const saved = JSON.parse(readFileSync(join(second.finalDir, 'adapter_config.json'), 'utf8'));
    expect([saved.r, saved.lora_alpha, saved.use_rslora, saved.target_modules]).toEqual([4, 8, true, ['q_proj']]);
    const a = readSafetensors(join(first.finalDir, 'adapter_model.safetensors'));
    const b = readSafetensors(join(second.finalDir, 'adapter_model.safetensors'));
    const key = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';
    const diff = Math.max(...Array.from(a.get(key)!.data).map((v, i) => Math.abs(v - b.get(key)!.data[i])));
    expect(diff).toBeGreaterThan(0); // trained further
    expect(diff).toBeLessThan(0.5); // from the saved weights, not from a fresh zero B
    expect(Array.from(a.get(key)!.data).some((v) => v !== 0)).toBe(true);
  });
});

describe('config validation', () => {
  const write = (obj: string) => {
    const p = join(tmp('cfg'), 'sft.yaml');
    writeFileSync(p, obj);
    return p;
  };
  it('names an unknown (mistyped) key with a did-you-mean hint', async () => {
    const p = write('model: m\noutput_dir: o\ndataset: { path: d.jsonl }\nlearning_rat: 0.1\n');
    await expect(loadSftConfig(p)).rejects.toThrow(/unknown key 'learning_rat' \(did you mean 'learning_rate'\?\)/);
  });
  it('names a nested unknown key and a wrongly typed one', async () => {
    await expect(loadSftConfig(write('model: m\noutput_dir: o\ndataset: { path: d.jsonl, fromat: alpaca }\n'))).rejects.toThrow(/dataset\.fromat/);
    await expect(loadSftConfig(write('model: m\noutput_dir: o\ndataset: { path: d.jsonl }\npacking: "네"\n'))).rejects.toThrow(/key 'packing' must be true or false/);
    await expect(loadSftConfig(write('model: m\noutput_dir: o\ndataset: { path: d.jsonl }\nlora: { r: 0 }\n'))).rejects.toThrow(/lora\.r/);
    await expect(loadSftConfig(write('model: m\noutput_dir: o\ndataset: { path: d.jsonl }\nlr_scheduler_type: step\n'))).rejects.toThrow(/lr_scheduler_type.*constant \| constant_with_warmup \| linear \| cosine/);
  });
  it('applies --set overrides with types', async () => {
    const c = await loadSftConfig(write('model: m\noutput_dir: o\ndataset: { path: d.jsonl }\n'), ['learning_rate=1e-5', 'lora.r=16', 'packing=true']);
    expect([c.learning_rate, c.lora?.r, c.packing]).toEqual([1e-5, 16, true]);
  });
  it('reports a missing dataset file and a row without an answer as user errors naming the file', async () => {
    const missing = join(tmp('nodata'), '없는-파일.jsonl');
    await expect(trainSft(cfgFor(tmp('nodata-out'), { dataset: { path: missing } }), { log: () => {} })).rejects.toThrow(/없는-파일\.jsonl/);
    const noAnswer = join(tmp('noanswer'), 'q.jsonl');
    writeFileSync(noAnswer, `${JSON.stringify(ROWS[0])}\n${JSON.stringify({ messages: [{ role: 'user', content: '질문만 있습니다' }] })}\n`);
    await expect(trainSft(cfgFor(tmp('noanswer-out'), { dataset: { path: noAnswer } }), { log: () => {} })).rejects.toThrow(/q\.jsonl: row 2: no assistant answer/);
  });

  it('rejects a trainable pattern that matches no parameter, naming the key', async () => {
    await expect(trainSft(cfgFor(tmp('badpat'), { trainable: ['layers.7'] }), { log: () => {} })).rejects.toThrow(/trainable\[0\].*'layers\.7' matches no parameter/);
    await expect(trainSft(cfgFor(tmp('badgrp'), { param_groups: [{ pattern: 'no_such_proj', learning_rate: 1 }] }), { log: () => {} })).rejects.toThrow(/param_groups\[0\]\.pattern/);
    await expect(trainSft(cfgFor(tmp('lora-trainable'), { lora: {}, trainable: ['lm_head'] }), { log: () => {} })).rejects.toThrow(/'lora' and 'trainable' cannot be combined/);
  });
});

describe('datasets as published: dataset.columns and extra columns', () => {
  const PUBLISHED = join(repoRoot, 'test', 'fixtures', 'data', 'published');

  it('dataset.columns reads a Q/A set with its own column names, and the run log names the format', async () => {
    const tok = await loadTokenizer(modelDir);
    const path = join(PUBLISHED, 'qa-renamed.jsonl');
    const data = await prepareSftData(cfgFor(tmp('cols'), { dataset: { path, columns: { prompt: 'question', answer: 'answer_text' } }, max_length: 512 }), tok);
    expect(data.read).toBe(`${path}: read as prompt_completion (columns {prompt: question, answer: answer_text}); passed through untouched: question, answer_text, id, split`);
    expect(data.train.map((ex) => tok.decode(ex.input_ids.filter((_, t) => ex.labels[t] !== IGNORE_INDEX)))).toEqual([
      '한국의 수도는 서울입니다.<|im_end|>', '배추를 소금에 절여 양념해 발효시킨 음식입니다.<|im_end|>', '조선의 세종대왕이 만들었습니다.<|im_end|>',
    ]);
  });

  it('messages rows whose `label` is a 0/1/2 topic class train as SFT rows (the label is never read)', async () => {
    const tok = await loadTokenizer(modelDir);
    const path = join(PUBLISHED, 'chat-category.jsonl');
    const data = await prepareSftData(cfgFor(tmp('cat'), { dataset: { path }, max_length: 512 }), tok);
    expect(data.train).toHaveLength(4);
    expect(data.read).toContain('read as messages (auto: ');
    expect(data.read).toContain('passed through untouched: label, id, source, category, score, split');
  });

  it('an unknown dataset.columns key is an error naming it', () => {
    expect(() => cfgFor('x', { dataset: { path: 'd.jsonl', columns: { promt: 'question' } } })).toThrow(
      "config: unknown key 'dataset.columns.promt' (did you mean 'dataset.columns.prompt'?)",
    );
  });
});
