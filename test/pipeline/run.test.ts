import { mkdtemp, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAllRows } from '../../src/data/io.ts';
import { runDirOf, runPipeline, shareJudgeCache, writeSweepConfig } from '../../src/pipeline/run.ts';
import { loadConfig } from '../../src/config/schema.ts';
import { sweepSchema, type SweepConfig } from '../../src/sweep/config.ts';
import { runCuration } from '../../src/curate/pipeline.ts';
import { judgeRows } from '../../src/judge/job.ts';
import { writeFileSync } from 'node:fs';
import { chatReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';
import { isolateOpenAIEnv } from '../helpers/openai-env.ts';
import { repoRoot } from '../helpers/cli.ts';

/** The quickstart config at reduced size: fewer steps, prompts and eval items. */
function smallSets(runsDir: string): string[] {
  return [
    `runs_dir=${runsDir}`,
    'name=작은-실행',
    'backend=wasm',
    'model.init.vocab=512',
    'model.init.hidden=32',
    'sft.max_steps=6',
    'sft.save_steps=3',
    'kto.max_steps=2',
    'kto.save_steps=0',
    'sweep.gate.max_prompts=6',
    'sweep.gate.max_new_tokens=8',
    'sweep.search.space.learning_rate=[0.001]',
    'review.sample=10',
    'eval.limit=6',
  ];
}

describe('ko-align run (the quickstart pipeline at reduced size)', () => {
  it('runs every stage end to end, writes the report, and skips unchanged stages on a re-run', async () => {
    const runs = await mkdtemp(join(tmpdir(), 'pipeline-'));
    const logs: string[] = [];
    const config = join(repoRoot, 'configs/quickstart.yaml');
    const first = await runPipeline(config, { sets: smallSets(runs), log: (m) => logs.push(m) });
    const dir = first.runDir;
    for (const f of ['model-init/config.json', 'curate/kept.parquet', 'curate/manifest.json', 'judged.parquet', 'review/review.html', 'kto.jsonl', 'sft/final/model.safetensors', 'sweep/rounds.parquet', 'report.html', 'report.md', 'eval.json']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    // Two rounds (beta 0.1 and 0.5), both trained from the one reference cache.
    expect(first.sweep.rounds).toHaveLength(2);
    expect(first.sweep.rounds.every((r) => r.reference_cache === 'hit')).toBe(true);
    const kto = await readAllRows(join(dir, 'kto.jsonl'));
    expect(kto.some((r) => r.label === true) && kto.some((r) => r.label === false)).toBe(true);
    // Shuffled, so sequential KTO batches of 8 mix both classes and log reward margins.
    const firstBatch = kto.slice(0, 8).map((r) => r.label);
    expect(firstBatch).toContain(true);
    expect(firstBatch).toContain(false);
    // Stratified: with the minority class at >= 1/8 of the rows, every full batch of 8 has both.
    const share = Math.min(...[true, false].map((l) => kto.filter((r) => r.label === l).length)) / kto.length;
    if (share >= 1 / 8) {
      for (let i = 0; i + 8 <= kto.length; i += 8) expect(new Set(kto.slice(i, i + 8).map((r) => r.label)).size, `batch at ${i}`).toBe(2);
    }
    expect(first.sweep.rounds.every((r) => typeof r['rewards/margins'] === 'number')).toBe(true);
    const html = await readFile(first.reportPath, 'utf8');
    for (const s of ['Curation funnel', 'judge score histogram', 'SFT loss', 'KTO loss per round', 'toxic rate', 'Evaluation', 'round 0', 'round 1']) expect(html).toContain(s);
    expect(first.eval.length).toBeGreaterThanOrEqual(1);

    const again = await runPipeline(config, { sets: smallSets(runs), log: () => {} });
    expect(again.skipped).toMatchObject({ model: true, judge: true, labels: true, sft: true, reference: true, sweep: true, eval: true });

    // A KTO-only change re-runs the sweep but neither SFT nor the reference cache's build.
    const changed = await runPipeline(config, { sets: [...smallSets(runs), 'sweep.search.space.beta=[0.2]'], log: () => {} });
    expect(changed.skipped.sft).toBe(true);
    expect(changed.skipped.sweep).toBe(false);
    expect(changed.sweep.rounds).toHaveLength(1);
  });
});

describe('pipeline config checks', () => {
  it('validates the shipped configs, the real-model example included', async () => {
    const { loadConfig } = await import('../../src/config/schema.ts');
    const { pipelineSchema } = await import('../../src/pipeline/config.ts');
    const { checkSections } = await import('../../src/pipeline/run.ts');
    for (const f of ['configs/quickstart.yaml', 'configs/pipeline-real.yaml']) {
      const pc = await loadConfig(join(repoRoot, f), pipelineSchema);
      expect(() => checkSections(pc as never, f)).not.toThrow();
    }
  });

  it('names a mistyped KTO key before any stage runs', async () => {
    const runs = await mkdtemp(join(tmpdir(), 'pipeline-bad-'));
    await expect(runPipeline(join(repoRoot, 'configs/quickstart.yaml'), { sets: [`runs_dir=${runs}`, 'kto.bta=0.2'], log: () => {} })).rejects.toThrow(
      /configs\/quickstart.yaml: kto: unknown key 'bta' \(did you mean 'beta'\?\)/,
    );
    expect(existsSync(join(runs, 'quickstart', 'curate'))).toBe(false);
  });
});

describe('one judge cache for the curate judge stage and the pipeline judge step', () => {
  let server: OpenAIServer | undefined;
  isolateOpenAIEnv(() => server, () => (server = undefined));

  it('points judge stages without a cache at the shared file, and leaves others alone', () => {
    const cfg = { inputs: [], stages: [{ type: 'normalize' }, { type: 'judge', params: { min_score: 6 } }, { type: 'judge', name: 'j2', params: { cache: 'own.jsonl' } }] };
    expect(shareJudgeCache(cfg, '/run/judge-cache.jsonl').stages).toEqual([
      { type: 'normalize' },
      { type: 'judge', params: { min_score: 6, cache: '/run/judge-cache.jsonl' } },
      { type: 'judge', name: 'j2', params: { cache: 'own.jsonl' } },
    ]);
    expect(cfg.stages[1]).toEqual({ type: 'judge', params: { min_score: 6 } });
  });

  it('kept rows judged during curation are not sent again: requests == distinct samples', async () => {
    server = await startOpenAIServer({
      handler: (req) => (req.path.endsWith('/chat/completions') ? chatReply(JSON.stringify({ reason: '평가', score: req.body.messages[1].content.includes('모르겠') ? 3 : 8 })) : undefined),
    });
    const dir = await mkdtemp(join(tmpdir(), 'pipeline-cache-'));
    const input = join(dir, 'in.jsonl');
    const samples = [
      { prompt: '서울의 명소를 알려줘', answer: '경복궁과 남산타워가 유명합니다.' },
      { prompt: '부산의 명소를 알려줘', answer: '해운대 해수욕장이 유명합니다.' },
      { prompt: '제주의 명소를 알려줘', answer: '잘 모르겠습니다.' },
    ];
    writeFileSync(input, samples.map((r) => JSON.stringify(r) + '\n').join(''));
    const cache = join(dir, 'judge-cache.jsonl');
    const curate = shareJudgeCache({ inputs: [{ path: input }], output_dir: join(dir, 'curate'), stages: [{ type: 'judge', params: { base_url: server.baseURL } }] }, cache);
    await runCuration(curate, { log: () => {}, progress: 'off' });
    expect(server.requests.length).toBe(3);
    const rows = [...(await readAllRows(join(dir, 'curate', 'kept.parquet'))), ...(await readAllRows(join(dir, 'curate', 'rejected.parquet')))];
    const { summary } = await judgeRows(rows, { rubricPath: join(repoRoot, 'judges', 'quality-ko.yaml'), baseURL: server.baseURL, cachePath: cache });
    expect(summary).toMatchObject({ rows: 3, cached: 3, judged: 0 });
    expect(server.requests.length).toBe(3);
  });
});

describe('the run name stays inside runs_dir', () => {
  it('refuses ../ and absolute names and runs_dir itself; accepts nested names', () => {
    for (const bad of ['../../x', '../밖', '/tmp/x', '.', '', 'a/../..']) {
      expect(() => runDirOf('runs', bad, 'configs/quickstart.yaml'), bad).toThrow(/^configs\/quickstart\.yaml: key 'name' must name a directory inside runs_dir \(runs\)/);
    }
    expect(runDirOf('/r', '실험/1', 'c.yaml')).toBe('/r/실험/1');
  });

  it('run --set name=../../x fails before anything is written', async () => {
    const runs = await mkdtemp(join(tmpdir(), 'pipeline-name-'));
    const config = join(repoRoot, 'configs/quickstart.yaml');
    await expect(runPipeline(config, { sets: [`runs_dir=${join(runs, 'runs')}`, 'name=../../x'], log: () => {} })).rejects.toThrow(/key 'name' must name a directory inside runs_dir/);
    expect(existsSync(join(runs, 'runs'))).toBe(false);
  });
});

describe('the sweep config a run writes', () => {
  it('stores the gate URL without userinfo or secret parameters; the sweep still gets the real one in memory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ko-sweep-yaml-'));
    const path = join(dir, 'sweep.yaml');
    const url = 'http://judge:s3cr3t-pass@127.0.0.1:9/v1?api-key=sk-abcdef1234567890abcdef&region=kr';
    const raw = { name: '한국어', output_dir: join(dir, 'sweep'), base_config: join(dir, 'kto.yaml'), search: { method: 'grid', space: { beta: [0.1] } }, gate: { scorer: 'judge', base_url: url } };
    const sets = await writeSweepConfig(path, raw);
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain('s3cr3t-pass');
    expect(text).not.toContain('sk-abcdef1234567890abcdef');
    expect(text).toContain('127.0.0.1:9/v1');
    const cfg = await loadConfig<SweepConfig>(path, sweepSchema, sets);
    expect(cfg.gate.base_url).toBe(url);
    // nothing secret: no override needed
    expect(await writeSweepConfig(path, { ...raw, gate: { scorer: 'judge', base_url: 'http://127.0.0.1:9/v1' } })).toEqual([]);
  });
});
