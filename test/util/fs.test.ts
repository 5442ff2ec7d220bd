import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRows } from '../../src/data/io.ts';
import { writeModelDir } from '../../src/model/checkpoint.ts';
import { UserError } from '../../src/util/errors.ts';
import { cleanStaleTemps, writeFileAtomic } from '../../src/util/fs.ts';
import { errorOf } from '../helpers/errors.ts';

/** The pid of a process that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('stale temp files of a killed writer', () => {
  it('are removed on the next write of the same output; a live writer\'s temps are kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-stale-'));
    const dead = deadPid();
    const stale = [`.kept.parquet.${dead}.0a1b2c3d.tmp`, `.kept.parquet.${dead}.0a1b2c3d.tmp.spill`];
    const live = `.kept.parquet.${process.pid}.deadbeef.tmp`;
    for (const f of [...stale, live, '.other.parquet.1.0a1b2c3d.tmp', '메모.txt']) writeFileSync(join(dir, f), 'x');
    await writeRows(join(dir, 'kept.parquet'), [{ 질문: '한국의 수도는?', 답: '서울' }]);
    expect(readdirSync(dir).sort()).toEqual([live, '.other.parquet.1.0a1b2c3d.tmp', 'kept.parquet', '메모.txt'].sort());
  });

  it('leftover model temp directories (.tmp and .tmp.old) are removed by the next save', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ko-align-stale-model-'));
    const dead = deadPid();
    mkdirSync(join(parent, `.final.${dead}.00ff00ff.tmp`));
    mkdirSync(join(parent, `.final.${dead}.00ff00ff.tmp.old`));
    await writeModelDir(join(parent, 'final'), async (tmp) => writeFileSync(join(tmp, 'config.json'), '{}'));
    expect(readdirSync(parent)).toEqual(['final']);
  });

  it('cleanStaleTemps reports what it removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-stale-fn-'));
    const f = `.out.jsonl.${deadPid()}.12345678.tmp`;
    writeFileSync(join(dir, f), '');
    expect(await cleanStaleTemps(join(dir, 'out.jsonl'))).toEqual([join(dir, f)]);
  });
});

describe('a directory as an output file path', () => {
  it('is refused up front with one line, and no temp file is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-outdir-'));
    const out = join(dir, '결과.jsonl');
    mkdirSync(out);
    const e = await errorOf(writeRows(out, [{ 답: '서울' }]));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${out}: is a directory, expected an output file path (e.g. ${join(out, 'out.jsonl')})`);
    expect((await errorOf(writeFileAtomic(out, '{}'))).message).toMatch(/is a directory/);
    expect(readdirSync(dir)).toEqual(['결과.jsonl']);
    expect(readdirSync(out)).toEqual([]);
  });
});
