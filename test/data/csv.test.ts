import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAllRows, writeRows } from '../../src/data/io.ts';
import { UserError } from '../../src/util/errors.ts';
import { runCli } from '../helpers/cli.ts';
import { errorOf } from '../helpers/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ko-align-csv-'));
let n = 0;
function file(content: string | Buffer): string {
  const p = join(dir, `f${n++}.csv`);
  writeFileSync(p, content);
  return p;
}

describe('CSV', () => {
  it('writes strings quoted, numbers/booleans bare, null empty and nested values as JSON text', async () => {
    const p = join(dir, 'out.csv');
    await writeRows(p, [
      { text: '김치, "맛있다"', n: 3, x: 0.5, ok: true, none: null, empty: '', messages: [{ role: 'user', content: '안녕' }] },
    ]);
    expect(readFileSync(p, 'utf8')).toBe(
      '"text","n","x","ok","none","empty","messages"\n' +
        '"김치, ""맛있다""",3,0.5,true,,"","[{""role"":""user"",""content"":""안녕""}]"\n',
    );
  });

  it('reads back what it writes, telling "123" from 123, "" from null and "true" from true', async () => {
    const rows = [
      { s: '123', n: 123, e: '', z: null, t: 'true', b: true, lead: '007', multi: '첫 줄\n둘째 줄' },
      { s: '-0.5', n: -0.5, e: ' ', z: null, t: 'false', b: false, lead: '1e3', multi: '' },
    ];
    const p = join(dir, 'rt.csv');
    await writeRows(p, rows);
    expect(await readAllRows(p)).toEqual(rows);
  });

  it('reads spreadsheet/pandas style files: BOM, bare text, canonical numbers only, CRLF', async () => {
    const p = file('\uFEFFid,이름,점수,비고,코드\r\n1,홍길동,9.5,,007\r\n2,김철수,10,"쉼표, 포함",12a\r\n');
    expect(await readAllRows(p)).toEqual([
      { id: 1, 이름: '홍길동', 점수: 9.5, 비고: null, 코드: '007' },
      { id: 2, 이름: '김철수', 점수: 10, 비고: '쉼표, 포함', 코드: '12a' },
    ]);
  });

  it('keeps a bracketed string that is not JSON as text', async () => {
    const p = file('note\n"[참고] 메모"\n[미완성\n');
    expect(await readAllRows(p)).toEqual([{ note: '[참고] 메모' }, { note: '[미완성' }]);
  });

  it('names the line of a malformed record', async () => {
    const p = file('a,b\n1,2\n3,4,5\n');
    const e = await errorOf(readAllRows(p));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: invalid CSV \\(`));
    expect(e.message).not.toContain('\n');
  });

  it('names the line of invalid UTF-8', async () => {
    const p = file(Buffer.concat([Buffer.from('a\n"가"\n"나"\n"'), Buffer.from([0xc3, 0x28]), Buffer.from('"\n')]));
    const e = await errorOf(readAllRows(p));
    expect(e.message).toBe(`${p}:4: invalid UTF-8`);
  });

  it('a header-only file has no rows', async () => {
    const p = file('a,b\n');
    expect(await readAllRows(p, { requireRows: false })).toEqual([]);
    expect((await errorOf(readAllRows(p))).message).toBe(`${p}: no rows`);
  });

  it('a quote inside an unquoted field is a one-line error naming file and line, and leaves no temp file', async () => {
    const sub = mkdtempSync(join(dir, 'quote-'));
    const p = join(sub, 'in.csv');
    writeFileSync(p, '지시,답\n"안녕","반가워"\n김"치,2\n');
    const e = await errorOf(readAllRows(p));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: invalid CSV \\(`));
    // Streaming into an output (what convert/curate do) fails the same way and leaves nothing.
    const out = join(sub, 'out.jsonl');
    const { readRows } = await import('../../src/data/io.ts');
    expect((await errorOf(writeRows(out, readRows(p)))).message).toBe(e.message);
    expect(readdirSync(sub).sort()).toEqual(['in.csv']);
  });

  it('convert on a CSV with a stray quote exits 1 with one line, not 13 with none', () => {
    const sub = mkdtempSync(join(dir, 'quote-cli-'));
    const p = join(sub, 'in.csv');
    writeFileSync(p, 'a,b\nx"y,2\n');
    const r = runCli(['convert', '--input', p, '--output', join(sub, 'out.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${p}:2: invalid CSV`);
    expect(readdirSync(sub)).toEqual(['in.csv']);
  });

  it('refuses a header with a repeated column name, naming it', async () => {
    const p = file('질문,질문\n"하나","둘"\n');
    const e = await errorOf(readAllRows(p));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${p}:1: CSV column name '질문' appears twice (columns 1 and 2); column names must be distinct`);
  });

  it('refuses a header with an empty column name, naming its position', async () => {
    const p = file('질문,,답\n"하나","둘","셋"\n');
    const e = await errorOf(readAllRows(p));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${p}:1: CSV column 2 has an empty name; every column needs a name`);
  });
});
