/**
 * The curation pipeline end to end on the bundled sample (datasets/ko-instruct-sample.jsonl):
 * manifest counts, per-stage precision / recall against the ground-truth column `gt_issue`,
 * outputs readable by an independent Parquet reader (DuckDB), and the stage cache.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { canonicalRow, runCuration, type Manifest } from '../../src/curate/pipeline.ts';
import { errorOf } from '../helpers/errors.ts';
import { UserError } from '../../src/util/errors.ts';
import { readAllRows, type Row } from '../../src/data/io.ts';
import { repoRoot } from '../helpers/cli.ts';
import { chatReply, errorReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';
import { isolateOpenAIEnv } from '../helpers/openai-env.ts';

const sample = join(repoRoot, 'datasets', 'ko-instruct-sample.jsonl');
const config = join(repoRoot, 'configs', 'curate.yaml');
const out = mkdtempSync(join(tmpdir(), 'ko-align-curate-'));
const quiet = { log: () => {}, progress: 'off' as const };

let manifest: Manifest;
let kept: Row[];
let rejected: Row[];
const sets = [`output_dir=${out}`, `inputs=[{path: ${sample}}]`];

beforeAll(async () => {
  manifest = await runCuration(config, { sets, ...quiet });
  kept = await readAllRows(join(out, 'kept.parquet'));
  rejected = await readAllRows(join(out, 'rejected.parquet'));
});

/** Which ground-truth class a stage decision stands for. */
function predicted(r: Row): string {
  if (typeof r.reason === 'string') {
    const code = r.reason.split(':')[0];
    if (code === 'exact_dup' || code === 'near_dup') return 'near_dup';
    return code;
  }
  return Array.isArray(r.pii_types) && r.pii_types.length > 0 ? 'pii' : 'clean';
}

function prf(cls: string): { precision: number; recall: number; tp: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const r of [...kept, ...rejected]) {
    // A PII row may also be rejected for another reason after masking; PII is judged by pii_types.
    const p = cls === 'pii' ? (Array.isArray(r.pii_types) && r.pii_types.length > 0 ? 'pii' : '') : predicted(r);
    const g = r.gt_issue === cls;
    if (g && p === cls) tp++;
    else if (p === cls) fp++;
    else if (g) fn++;
  }
  return { precision: tp / Math.max(1, tp + fp), recall: tp / Math.max(1, tp + fn), tp };
}

describe('runCuration on the bundled sample', () => {
  it('the sample has at least 300 rows covering every ground-truth class', () => {
    const gts = readFileSync(sample, 'utf8').trim().split('\n').map((l) => JSON.parse(l).gt_issue as string);
    expect(gts.length).toBeGreaterThanOrEqual(300);
    expect(new Set(gts)).toEqual(new Set(['clean', 'code_switch', 'pii', 'near_dup', 'refusal', 'repetition', 'toxic', 'too_short']));
  });

  it('the committed sample is exactly what datasets/tools/make-sample.ts generates', () => {
    const regen = join(out, 'regen.jsonl');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'datasets', 'tools', 'make-sample.ts'), regen], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(regen, 'utf8')).toBe(readFileSync(sample, 'utf8'));
  });

  it('writes a manifest with counts in / out per stage that add up', () => {
    const counts = manifest.stages.map((s) => [s.name, s.in, s.kept, s.rejected]);
    expect(counts).toEqual([
      ['input', 318, 318, 0],
      ['normalize', 318, 318, 0],
      ['pii', 318, 318, 0],
      ['rules', 318, 238, 80],
      ['dedup', 238, 213, 25],
    ]);
    for (let i = 1; i < manifest.stages.length; i++) expect(manifest.stages[i].in).toBe(manifest.stages[i - 1].kept);
    expect(manifest.totals).toEqual({ in: 318, kept: 213, rejected: 105 });
    expect(manifest.reasons).toEqual({
      'rules/code_switch': 25, 'rules/too_short': 15, 'rules/repetition': 20, 'rules/refusal': 20, 'dedup/near_dup': 18, 'dedup/exact_dup': 7,
    });
    expect(manifest.config_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.stages.every((s) => s.duration_s >= 0 && !s.cached)).toBe(true);
    const onDisk = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(onDisk.totals).toEqual(manifest.totals);
  });

  it('kept.parquet and rejected.parquet hold every row exactly once, rejected with stage and reason', () => {
    expect(kept).toHaveLength(213);
    expect(rejected).toHaveLength(105);
    const ids = new Set([...kept, ...rejected].map((r) => r.sample_id));
    expect(ids.size).toBe(318);
    for (const r of rejected) {
      expect(['rules', 'dedup']).toContain(r.stage);
      expect(typeof r.reason).toBe('string');
    }
    for (const r of kept) {
      expect(r.id).toMatch(/^[0-9a-f]{16}$/);
      expect(typeof r.prompt).toBe('string');
      expect(typeof r.answer).toBe('string');
      expect(Array.isArray(r.messages)).toBe(true);
      expect(r.dup_cluster).toBe(r.id);
    }
  });

  it.each([
    ['pii', 0.9, 0.9],
    ['code_switch', 0.9, 0.9],
    ['refusal', 0.9, 0.9],
    ['repetition', 0.9, 0.9],
    ['too_short', 0.9, 0.9],
    ['near_dup', 0.9, 0.9],
  ])('%s: precision >= %d and recall >= %d against gt_issue', (cls, p, r) => {
    const m = prf(cls);
    expect(m.tp).toBeGreaterThan(0);
    expect(m.precision).toBeGreaterThanOrEqual(p);
    expect(m.recall).toBeGreaterThanOrEqual(r);
  });

  it('near-duplicates point at the row they copy', () => {
    const bySample = new Map([...kept, ...rejected].map((r) => [r.sample_id, r]));
    for (const r of rejected.filter((x) => x.stage === 'dedup')) {
      expect(r.gt_issue).toBe('near_dup');
      expect(r.dup_cluster).toBe(bySample.get(r.dup_of)!.id);
    }
  });

  it('leaves no raw PII in either output: masked before the rules stage runs', () => {
    const all = JSON.stringify([...kept, ...rejected]);
    expect(all).not.toMatch(/010-\d{4}-\d{4}/);
    expect(all).not.toMatch(/@example\.(com|co\.kr)/);
    expect(kept.filter((r) => r.gt_issue === 'pii').every((r) => /\[(EMAIL|PHONE|RRN|CARD|IP)\]/.test(r.answer as string))).toBe(true);
  });

  it('keeps multi-turn rows whole and the toxic rows for the toxicity stage', () => {
    const multi = kept.filter((r) => r.topic === 'multi_turn');
    expect(multi.length).toBe(8);
    expect(multi.every((r) => (r.messages as unknown[]).length >= 2)).toBe(true);
    expect(kept.filter((r) => r.gt_issue === 'toxic')).toHaveLength(20);
  });

  it('outputs read back in DuckDB, an independent Parquet reader', async () => {
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    try {
      const r = await con.runAndReadAll(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM read_parquet('${join(out, 'kept.parquet')}')`);
      expect(r.getRowObjects()[0]).toEqual({ n: 213n, ids: 213n });
      const s = await con.runAndReadAll(`SELECT stage, count(*) AS n FROM read_parquet('${join(out, 'rejected.parquet')}') GROUP BY stage ORDER BY stage`);
      expect(s.getRowObjects()).toEqual([{ stage: 'dedup', n: 25n }, { stage: 'rules', n: 80n }]);
    } finally {
      con.closeSync();
      inst.closeSync();
    }
  });

  it('bounds disk use: stage files are gzipped JSONL, all stages together under 3.5x the input', () => {
    const stageFiles = filesUnder(join(out, '.stages'));
    expect(stageFiles.filter((f) => f.endsWith('.jsonl'))).toEqual([]);
    expect(stageFiles.filter((f) => f.endsWith('.jsonl.gz')).length).toBe(2 * manifest.stages.length);
    const bytes = stageFiles.reduce((n, f) => n + statSync(f).size, 0);
    expect(bytes).toBeLessThan(3.5 * statSync(sample).size);
  });

  it('a second run with the same config reuses every stage and gives the same outputs', async () => {
    const before = readFileSync(join(out, 'kept.parquet'));
    const again = await runCuration(config, { sets, ...quiet });
    expect(again.stages.every((s) => s.cached)).toBe(true);
    expect(again.config_hash).toBe(manifest.config_hash);
    expect(readFileSync(join(out, 'kept.parquet')).equals(before)).toBe(true);
  });

  it('changing one stage recomputes it and the stages after it, not the ones before', async () => {
    const m = await runCuration(config, { sets: [...sets, 'stages=[{type: normalize}, {type: pii, params: {mode: mask}}, {type: rules, params: {min_answer_chars: 40}}, {type: dedup, params: {field: both, ngram: 5, bands: 14, rows: 8}}]'], ...quiet });
    expect(m.stages.map((s) => s.cached)).toEqual([true, true, true, false, false]);
    expect(m.stages[3].rejected).toBeGreaterThan(80);
    expect(readdirSync(join(out, '.stages')).filter((d) => d.startsWith('03-rules-'))).toHaveLength(2);
  });
});

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

describe('credentials never reach curate outputs', () => {
  let server: OpenAIServer | undefined;
  isolateOpenAIEnv(() => server, () => (server = undefined));

  it('a 401 quoting the Authorization header and a base_url with user:pass leave no secret in any file', async () => {
    const key = 'sk-redteam-0123456789abcdef';
    process.env.OPENAI_API_KEY = key;
    server = await startOpenAIServer({
      handler: (req) => {
        if (!req.path.endsWith('/chat/completions')) return undefined;
        const u: string = req.body.messages[1].content;
        if (u.includes('부산')) return errorReply(401, `Incorrect API key provided. Request header: Authorization: ${req.headers.authorization}; key=${key}`);
        return chatReply(JSON.stringify({ reason: '좋은 답변', score: 9 }));
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-curate-secret-'));
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, [
      { prompt: '서울의 명소를 알려줘', answer: '경복궁과 남산타워가 유명합니다.' },
      { prompt: '부산의 명소를 알려줘', answer: '해운대 해수욕장이 유명합니다.' },
      { prompt: '제주의 명소를 알려줘', answer: '한라산과 성산일출봉이 유명합니다.' },
    ].map((r) => JSON.stringify(r) + '\n').join(''));
    const port = new URL(server.baseURL).port;
    const baseUrl = `http://judge-user:hunter2pass@127.0.0.1:${port}/v1`;
    const outDir = join(dir, 'out');
    const m = await runCuration(
      { inputs: [{ path: input }], output_dir: outDir, stages: [{ type: 'judge', params: { base_url: baseUrl, max_retries: 0 } }] },
      quiet,
    );
    expect(m.totals).toEqual({ in: 3, kept: 2, rejected: 1 });
    const rej = await readAllRows(join(outDir, 'rejected.parquet'));
    expect(String(rej[0].judge_reason)).toMatch(/^HTTP 401: .*Authorization: Bearer \[redacted\]/);
    const manifestText = readFileSync(join(outDir, 'manifest.json'), 'utf8');
    expect(manifestText).toContain(`"base_url": "http://127.0.0.1:${port}/v1"`);
    // Every file written (stage JSONL, stats, judge cache, parquet rows read back as text, manifest).
    const texts = filesUnder(outDir).map((f) => (f.endsWith('.parquet') ? '' : readFileSync(f, 'utf8')));
    texts.push(JSON.stringify(rej, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    for (const t of texts) {
      expect(t).not.toContain(key);
      expect(t).not.toContain('0123456789abcdef');
      expect(t).not.toContain('hunter2pass');
    }
  });
});

describe('rows without an answer', () => {
  it('a misspelled answer field is refused with the file, row and the fields the row has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-curate-answr-'));
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, [{ prompt: '김치찌개 끓이는 법', answr: '묵은지를 볶은 뒤 물을 붓고 끓입니다.' }, { prompt: '된장찌개 끓이는 법', answr: '된장을 풀고 두부를 넣습니다.' }].map((r) => JSON.stringify(r) + '\n').join(''));
    const e = await errorOf(runCuration({ inputs: [{ path: input }], output_dir: join(dir, 'out'), stages: [{ type: 'normalize' }] }, quiet));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${input}: row 1: no answer field (the row has 'prompt', 'answr'); expected one of completion, answer, response, output, or an assistant turn in messages / conversations`);
  });

  it('a prompt row with an answer (or response) column keeps that answer', () => {
    expect(canonicalRow({ prompt: '한국의 수도는?', answer: '서울입니다.' }, undefined, 'x: row 1')).toMatchObject({ prompt: '한국의 수도는?', answer: '서울입니다.' });
    expect(canonicalRow({ prompt: '한국의 수도는?', response: '서울입니다.' }, undefined, 'x: row 1')).toMatchObject({ answer: '서울입니다.' });
    expect(() => canonicalRow({ messages: [{ role: 'user', content: '안녕?' }] }, undefined, 'x: row 3')).toThrow(/^x: row 3: no answer field \(the row has 'messages'\)/);
  });
});
