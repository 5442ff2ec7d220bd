/**
 * A killed curation run resumes at the first unfinished stage: finished stages are not
 * recomputed, the interrupted stage leaves nothing half-written, and the final outputs equal
 * those of an uninterrupted run. Two ways of dying: a stage that throws, and SIGKILL.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCuration } from '../../src/curate/pipeline.ts';
import { registerStage } from '../../src/curate/registry.ts';
import type { Decision, StageFactory } from '../../src/curate/stage.ts';
import { readAllRows, writeRows, type Row } from '../../src/data/io.ts';
import { repoRoot } from '../helpers/cli.ts';

const quiet = { log: () => {}, progress: 'off' as const };

const TOPICS = ['김치찌개', '된장찌개', '불고기', '비빔밥', '잡채', '떡볶이', '미역국', '삼계탕'];
async function makeInput(dir: string): Promise<string> {
  const rows: Row[] = [];
  for (let i = 0; i < 120; i++) {
    const t = TOPICS[i % TOPICS.length];
    rows.push({
      instruction: `${t} 만드는 법 ${i}번째 질문입니다. 자세히 알려주세요.`,
      output: i % 10 === 3 ? '네.' : `${t}를 만들려면 재료를 손질한 뒤 ${i + 5}분 동안 익히고, 마지막에 간을 맞추면 됩니다. 순서 ${i}번을 지키세요.`,
    });
  }
  const p = join(dir, 'in.jsonl');
  await writeRows(p, rows);
  return p;
}

/** Counts rows it processed in `calls`; throws after `failAfter` rows while `fail.on` is set. */
const calls = { n: 0 };
const fail = { on: false, after: 50 };
const flaky: StageFactory = () => ({
  name: 'flaky',
  async *process(rows): AsyncIterable<Decision> {
    let i = 0;
    for await (const row of rows) {
      calls.n++;
      if (fail.on && ++i > fail.after) throw new Error('simulated crash in the middle of a stage');
      yield { row: { ...row, flaky_seen: true }, keep: !String(row.answer).includes('7') };
    }
  },
});
registerStage('flaky_test', flaky);

const stagesYaml = (tail: string) => [{ type: 'normalize' }, { type: 'rules' }, { type: 'flaky_test' }, { type: tail }];

describe('resume after a crash', () => {
  it('a stage that throws: rerun skips finished stages and gives the uninterrupted outputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-resume-'));
    const input = await makeInput(dir);
    const cfg = (out: string) => ({ inputs: [{ path: input }], output_dir: out, stages: stagesYaml('dedup') });

    // Reference: one uninterrupted run.
    await runCuration(cfg(join(dir, 'ref')), quiet);
    const refKept = await readAllRows(join(dir, 'ref', 'kept.parquet'));
    const refRejected = await readAllRows(join(dir, 'ref', 'rejected.parquet'));

    // Crash in the third stage.
    const out = join(dir, 'run');
    fail.on = true;
    await expect(runCuration(cfg(out), quiet)).rejects.toThrow('simulated crash');
    const stageDirs = readdirSync(join(out, '.stages')).sort();
    expect(stageDirs.map((d) => d.replace(/-[0-9a-f]{12}$/, ''))).toEqual(['00-input', '01-normalize', '02-rules']);
    expect(existsSync(join(out, 'kept.parquet'))).toBe(false);
    expect(existsSync(join(out, 'manifest.json'))).toBe(false);

    // Resume.
    fail.on = false;
    calls.n = 0;
    const m = await runCuration(cfg(out), quiet);
    expect(m.stages.map((s) => [s.name, s.cached])).toEqual([
      ['input', true], ['normalize', true], ['rules', true], ['flaky_test', false], ['dedup', false],
    ]);
    expect(calls.n).toBe(m.stages[3].in);
    expect(await readAllRows(join(out, 'kept.parquet'))).toEqual(refKept);
    expect(await readAllRows(join(out, 'rejected.parquet'))).toEqual(refRejected);
    expect(m.totals).toEqual({ in: 120, kept: refKept.length, rejected: refRejected.length });
  });

  it('SIGKILL in the middle of a stage: the next run resumes at that stage', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-kill-'));
    const input = await makeInput(dir);
    const out = join(dir, 'run');
    const marker = join(dir, 'stuck');
    const cfg = { inputs: [{ path: input }], output_dir: out, stages: [{ type: 'normalize' }, { type: 'rules' }, { type: 'hang_test' }, { type: 'dedup' }] };
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify(cfg));
    // The child registers a stage that writes a marker after 30 rows and then hangs.
    const child = join(dir, 'child.mts');
    writeFileSync(
      child,
      `import { writeFileSync } from 'node:fs';
import { registerStage } from ${JSON.stringify(join(repoRoot, 'src/curate/registry.ts'))};
import { runCuration } from ${JSON.stringify(join(repoRoot, 'src/curate/pipeline.ts'))};
registerStage('hang_test', () => ({ name: 'hang_test', async *process(rows) {
  let i = 0;
  for await (const row of rows) {
    if (++i === 30) { writeFileSync(${JSON.stringify(marker)}, 'x'); await new Promise(() => setInterval(() => {}, 1000)); }
    yield { row, keep: true };
  }
} }));
await runCuration(${JSON.stringify(join(dir, 'cfg.json'))}, { log: () => {}, progress: 'off' });
`,
    );
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        if (existsSync(marker)) {
          clearInterval(poll);
          resolve();
        } else if (proc.exitCode !== null || Date.now() - t0 > 60_000) {
          clearInterval(poll);
          reject(new Error(`child never reached the stage: ${stderr}`));
        }
      }, 50);
    });
    proc.kill('SIGKILL');
    await new Promise((r) => proc.on('exit', r));
    // The killed stage's half-written temp dir is there, its final dir is not.
    const left = readdirSync(join(out, '.stages'));
    expect(left.some((d) => d.startsWith('.tmp-03-hang_test'))).toBe(true);
    expect(left.some((d) => d.startsWith('03-hang_test'))).toBe(false);

    // Resume in this process with a stage of the same type that does not hang.
    registerStage('hang_test', () => ({
      name: 'hang_test',
      async *process(rows) {
        for await (const row of rows) yield { row, keep: true };
      },
    }));
    const m = await runCuration(join(dir, 'cfg.json'), quiet);
    expect(m.stages.map((s) => s.cached)).toEqual([true, true, true, false, false]);
    expect(readdirSync(join(out, '.stages')).some((d) => d.startsWith('.tmp-'))).toBe(false);
    expect(m.totals.in).toBe(120);
    expect(m.stages[3].in).toBe(m.stages[2].kept);
  });
});
