import { cp, mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareKtoData, tokenizeKtoRows, trainKto, unpairPreferenceRows, validateKtoConfig, type KtoRunResult } from '../../src/train/kto.ts';
import { makeTestTokenizer } from '../fixtures/tokenizer/tokenizers.ts';
import { repoRoot } from '../helpers/cli.ts';
import { lookupRefCache } from '../../src/train/ref-cache.ts';
import { nativeAvailable } from '../helpers/native.ts';

const fx = join(repoRoot, 'test/fixtures/kto');
const expected = JSON.parse(await readFile(join(fx, 'kto-train-expected.json'), 'utf8')) as {
  steps: { loss: number; kl: number; rewards_chosen: number; rewards_rejected: number }[];
  reference_logps: number[];
  reference_kl_logps: number[];
};

async function ktoRun(over: Record<string, unknown> = {}, logs: string[] = []): Promise<{ res: KtoRunResult; metrics: Record<string, number>[]; cfgDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kto-'));
  const cfg = validateKtoConfig(
    {
      model: join(fx, 'tiny-llama'),
      output_dir: join(dir, 'out'),
      dataset: { path: join(fx, 'kto-rows.jsonl') },
      per_device_train_batch_size: 6,
      max_steps: 3,
      learning_rate: 0.01,
      lr_scheduler_type: 'constant',
      max_grad_norm: 0,
      beta: 0.1,
      desirable_weight: 1.375,
      undesirable_weight: 1,
      logging_steps: 1,
      save_steps: 0,
      backend: 'cpu',
      ref_logps_cache: join(dir, 'cache'),
      ...over,
    },
    'test',
  );
  const res = await trainKto(cfg, { log: (m) => logs.push(m), progress: false });
  const metrics = (await readFile(join(cfg.output_dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  return { res, metrics, cfgDir: dir };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-8);

describe('KTO trainer', () => {
  it.each(nativeAvailable() ? ['cpu', 'native'] : ['cpu'])('reproduces the PyTorch reference loss and kl over three full-batch steps (beta 0.1, weights 1.375 / 1) on %s', async (backend) => {
    const { metrics, res, cfgDir } = await ktoRun({ backend });
    expect(res.referenceCache).toBe('built');
    // The cached reference log-probs are the reference implementation's, row by row.
    const cached = await lookupRefCache(join(cfgDir, 'cache'), res.referenceCacheKey, 6);
    expect(cached.status).toBe('hit');
    if (cached.status === 'hit') {
      cached.data.logps.forEach((v, i) => expect(rel(v, expected.reference_logps[i])).toBeLessThan(1e-4));
      cached.data.klLogps.forEach((v, i) => expect(rel(v, expected.reference_kl_logps[i])).toBeLessThan(1e-4));
    }
    expect(metrics).toHaveLength(3);
    for (let s = 0; s < 3; s++) {
      expect(rel(metrics[s].loss, expected.steps[s].loss)).toBeLessThan(5e-3);
      if (expected.steps[s].kl > 0) expect(rel(metrics[s].kl, expected.steps[s].kl)).toBeLessThan(5e-3);
      else expect(metrics[s].kl).toBeLessThan(1e-4);
    }
    expect(rel(metrics[2]['rewards/chosen'], expected.steps[2].rewards_chosen)).toBeLessThan(5e-3);
    expect(rel(metrics[2]['rewards/rejected'], expected.steps[2].rewards_rejected)).toBeLessThan(5e-3);
    expect(metrics[2]['rewards/margins']).toBeCloseTo(metrics[2]['rewards/chosen'] - metrics[2]['rewards/rejected'], 5);
  });

  it('reuses the reference cache without the reference model, even after its directory is deleted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kto-ref-'));
    const refDir = join(dir, 'ref');
    await cp(join(fx, 'tiny-llama'), refDir, { recursive: true });
    const cache = join(dir, 'cache');
    const logs1: string[] = [];
    const first = await ktoRun({ ref_model: refDir, ref_logps_cache: cache, max_steps: 1 }, logs1);
    expect(first.res.referenceCache).toBe('built');
    await rm(refDir, { recursive: true });
    const logs2: string[] = [];
    const second = await ktoRun({ ref_model: refDir, ref_logps_cache: cache, max_steps: 1, beta: 0.3 }, logs2);
    expect(second.res.referenceCache).toBe('hit');
    expect(second.res.referenceCacheKey).toBe(first.res.referenceCacheKey);
    expect(logs2.join('\n')).toMatch(/reference cache hit .*not loaded/);
    // The key settings, once, at the start (the KTO ones included).
    expect(logs2.filter((l) => l.startsWith('kto: settings:'))).toEqual([
      'kto: settings: kto beta 0.3, weights D 1.375 / U 1 | NEFTune off | full fine-tuning | batch 6 x 1 accumulation = 6 per step | lr 0.01 constant, weight decay 0 | max_length 1024 | max_steps 1, seed 42 | backend cpu',
    ]);
    expect(logs2.findIndex((l) => l.startsWith('kto: settings:'))).toBeLessThan(logs2.findIndex((l) => /^kto: \d+ training rows/.test(l)));
  });

  it('refuses a stale cache after a dataset edit and rebuilds a corrupt one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kto-stale-'));
    const cache = join(dir, 'cache');
    const first = await ktoRun({ ref_logps_cache: cache, max_steps: 1 });
    // Edit one completion token: a new key, so the old cache is not used.
    const rows = (await readFile(join(fx, 'kto-rows.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    rows[0].completion_input_ids[0] = (rows[0].completion_input_ids[0] + 1) % 64;
    const edited = join(dir, 'edited.jsonl');
    await writeFile(edited, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const second = await ktoRun({ ref_logps_cache: cache, max_steps: 1, dataset: { path: edited } });
    expect(second.res.referenceCache).toBe('built');
    expect(second.res.referenceCacheKey).not.toBe(first.res.referenceCacheKey);
    // Corrupt the first cache file: detected by checksum and rebuilt.
    const arrow = join(cache, first.res.referenceCacheKey, 'ref_logps.arrow');
    const bytes = await readFile(arrow);
    bytes[bytes.length - 20] ^= 0xff;
    await writeFile(arrow, bytes);
    const logs: string[] = [];
    const third = await ktoRun({ ref_logps_cache: cache, max_steps: 1 }, logs);
    expect(third.res.referenceCache).toBe('rebuilt');
    expect(logs.join('\n')).toMatch(/corrupt \(checksum mismatch/);
    expect((await readdir(cache)).filter((n) => !n.endsWith('.json')).sort()).toEqual([first.res.referenceCacheKey, second.res.referenceCacheKey].sort());
  });

  it('refuses per_device_train_batch_size 1 for loss_type kto, naming the key', () => {
    expect(() => validateKtoConfig({ model: 'm', output_dir: 'o', dataset: { path: 'd.jsonl' }, per_device_train_batch_size: 1, max_steps: 1 }, 'configs/kto.yaml')).toThrow(
      /configs\/kto.yaml: key 'per_device_train_batch_size' must be >= 2 for loss_type kto/,
    );
  });

  it('warns when desirable_weight*n_D / (undesirable_weight*n_U) is outside [1, 4/3]', async () => {
    const logs: string[] = [];
    await ktoRun({ max_steps: 1, desirable_weight: 3 }, logs);
    expect(logs.join('\n')).toMatch(/warning: .*outside \[1, 4\/3\]/);
  });
});

describe('KTO datasets as published', () => {
  const PUBLISHED = join(repoRoot, 'test', 'fixtures', 'data', 'published');
  const lens = { max_length: 256, max_prompt_length: 128, max_completion_length: 128 };

  it('dataset.columns maps a preference set with its own names (question / response / is_good)', async () => {
    const tok = await makeTestTokenizer('chatml');
    const path = join(PUBLISHED, 'kto-renamed.jsonl');
    const cfg = validateKtoConfig({ model: 'm', output_dir: 'o', dataset: { path, columns: { prompt: 'question', answer: 'response', label: 'is_good' } }, per_device_train_batch_size: 2, max_steps: 1 }, 'kto.yaml');
    const data = await prepareKtoData(cfg, tok);
    expect(data.train.map((e) => e.label)).toEqual([true, false, true, false]);
    expect(tok.decode(data.train[1].completion_ids)).toContain('됐고, 알아서 해.');
    expect(data.read).toBe(`${path}: read as kto (prompt_completion rows, label from 'label'; columns {prompt: question, answer: response, label: is_good}); passed through untouched: question, response, is_good`);
  });

  it('a topic `label` (0/1/2) is validated where the KTO dataset is built, naming file, row and key', async () => {
    const tok = await makeTestTokenizer('chatml');
    const rows = (await readFile(join(PUBLISHED, 'chat-category.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(() => tokenizeKtoRows(rows, 'chat-category.jsonl', 'auto', tok, lens)).toThrow(
      "chat-category.jsonl: row 3: 'label' must be true/false (or desirable/undesirable), got 2",
    );
    // Messages rows with LLaMA-Factory's kto_tag are KTO rows without asking.
    const tagged = rows.slice(0, 2).map(({ messages }, i) => ({ messages, kto_tag: i === 0 }));
    expect(tokenizeKtoRows(tagged, 'tagged.jsonl', 'auto', tok, lens).map((e) => e.label)).toEqual([true, false]);
  });
});

describe("TRL's unpair_preference_dataset for KTO", () => {
  // trl/data_utils.py _unpair_row (lines 440-451 at f2cd577): completion = chosen + rejected,
  // label = [True]*n + [False]*n, prompt and the other columns duplicated, per map batch.
  it('turns prompt/chosen/rejected rows into unpaired rows: all chosen first, then all rejected', () => {
    const rows = [
      { prompt: '서울의 수도 지위는?', chosen: '서울은 한국의 수도입니다.', rejected: '부산이 수도입니다.', source: 'a' },
      { prompt: '김치의 재료는?', chosen: '배추와 고춧가루입니다.', rejected: '모르겠습니다.', source: 'b' },
    ];
    expect(unpairPreferenceRows(rows)).toEqual([
      { prompt: '서울의 수도 지위는?', completion: '서울은 한국의 수도입니다.', label: true, source: 'a' },
      { prompt: '김치의 재료는?', completion: '배추와 고춧가루입니다.', label: true, source: 'b' },
      { prompt: '서울의 수도 지위는?', completion: '부산이 수도입니다.', label: false, source: 'a' },
      { prompt: '김치의 재료는?', completion: '모르겠습니다.', label: false, source: 'b' },
    ]);
    const plain = [{ prompt: '질문', completion: '답', label: true }];
    expect(unpairPreferenceRows(plain)).toBe(plain);
    expect(() => unpairPreferenceRows([{ chosen: 'a', rejected: 'b' }], 'p.jsonl')).toThrow(/p\.jsonl: preference rows need a 'prompt'/);
  });
});

describe('KTO truncation: current TRL and TRL < 0.20', () => {
  // trl/trainer/kto_trainer.py at f2cd577: rows whose prompt alone reaches max_length are dropped
  // (lines 1088-1094), then the collator keeps the first max_length tokens (lines 377-380);
  // KTOConfig no longer has max_prompt_length / max_completion_length.
  const rows = [
    { prompt_input_ids: [1, 2, 3, 4], completion_input_ids: [5, 6, 7, 8, 9], label: true },
    { prompt_input_ids: [1, 2, 3, 4, 5, 6], completion_input_ids: [7], label: false },
  ];
  it('without max_prompt_length: prompts stay whole, the sequence is cut at max_length, full prompts are dropped', () => {
    expect(validateKtoConfig({ model: 'm', output_dir: 'o', dataset: { path: 'd.jsonl' } }).max_prompt_length).toBeUndefined();
    const ex = tokenizeKtoRows(rows, 'kto.jsonl', 'pretokenized', null, { max_length: 6 });
    expect(ex).toEqual([{ prompt_ids: [1, 2, 3, 4], completion_ids: [5, 6], label: true }]);
  });
  it('with max_prompt_length (TRL < 0.20 configs): the prompt keeps its last tokens', () => {
    const ex = tokenizeKtoRows(rows, 'kto.jsonl', 'pretokenized', null, { max_length: 6, max_prompt_length: 3, max_completion_length: 2 });
    expect(ex.map((e) => [e.prompt_ids, e.completion_ids])).toEqual([
      [[2, 3, 4], [5, 6]],
      [[4, 5, 6], [7]],
    ]);
  });
});
