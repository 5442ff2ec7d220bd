import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Dictionary,
  Field,
  Float32,
  Int32,
  List,
  Struct,
  Table,
  Utf8,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow';
import { readFileSync } from 'node:fs';
import { readAllRows, writeRows, type Row } from '../../src/data/io.ts';
import { encodeArrow, JSON_COLUMNS_KEY } from '../../src/data/arrow.ts';
import { UserError } from '../../src/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ko-align-arrow-'));

const sample: Row[] = [
  {
    id: 1,
    prompt: '떡볶이 만드는 법을 알려 줘.',
    messages: [
      { role: 'user', content: '떡볶이 만드는 법을 알려 줘.' },
      { role: 'assistant', content: '떡과 고추장을 준비하세요.' },
    ],
    score: 0.75,
    label: true,
    tags: ['요리'],
    meta: { src: 'kullm', n: 2 },
    big: 2n ** 60n,
  },
  { id: 2, prompt: '', messages: [], score: null, label: false, tags: null, meta: null, big: null },
];

describe('Arrow IPC', () => {
  it('round-trips the file format exactly (ints, floats, text, booleans, nulls, list<struct>, struct, int64)', async () => {
    for (const ext of ['arrow', 'feather', 'ipc']) {
      const p = join(dir, `sample.${ext}`);
      expect(await writeRows(p, sample)).toBe(2);
      expect(await readAllRows(p)).toEqual(sample);
    }
  });

  it('writes the typed schema other Arrow readers see', () => {
    const t = tableFromIPC(encodeArrow(sample));
    const types = Object.fromEntries(t.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types.id).toBe('Int64');
    expect(types.score).toBe('Float64');
    expect(types.prompt).toBe('Utf8');
    expect(types.label).toBe('Bool');
    expect(types.messages).toBe('List<Struct<{role:Utf8, content:Utf8}>>');
  });

  it('reads the stream format too', async () => {
    const p = join(dir, 'stream.arrow');
    writeFileSync(p, encodeArrow(sample, 'stream'));
    expect(readFileSync(p).subarray(0, 6).toString()).not.toBe('ARROW1');
    expect(await readAllRows(p)).toEqual(sample);
  });

  it('reads many record batches in order', async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({ i, text: `문장 ${i}` }));
    const p = join(dir, 'batches.arrow');
    writeFileSync(p, encodeArrow(rows, 'file', 1000));
    expect(tableFromIPC(readFileSync(p)).batches.length).toBe(5);
    expect(await readAllRows(p)).toEqual(rows);
  });

  it('reads a table built directly with apache-arrow (dictionary text, int32, float32, list<struct>)', async () => {
    const msgType = new List(new Field('item', new Struct([new Field('role', new Utf8(), true), new Field('content', new Utf8(), true)]), true));
    const table = new Table({
      source: vectorFromArray(['kullm', 'kullm', 'ko_alpaca'], new Dictionary(new Utf8(), new Int32())),
      n: vectorFromArray([1, -2, 3], new Int32()),
      f: vectorFromArray([0.5, 1.25, -2], new Float32()),
      messages: vectorFromArray(
        [[{ role: 'user', content: '안녕' }], [], null],
        msgType,
      ),
    });
    const p = join(dir, 'foreign.arrow');
    writeFileSync(p, tableToIPC(table, 'file'));
    expect(await readAllRows(p)).toEqual([
      { source: 'kullm', n: 1, f: 0.5, messages: [{ role: 'user', content: '안녕' }] },
      { source: 'kullm', n: -2, f: 1.25, messages: [] },
      { source: 'ko_alpaca', n: 3, f: -2, messages: null },
    ]);
  });

  it('stores a column without one shape as JSON text listed in the schema metadata, restored on read', async () => {
    const rows = [{ v: '문자' }, { v: { a: ['가'] } }, { v: 7 }, { v: null }];
    const p = join(dir, 'mixed.arrow');
    await writeRows(p, rows);
    expect(tableFromIPC(readFileSync(p)).schema.metadata.get(JSON_COLUMNS_KEY)).toBe('["v"]');
    expect(await readAllRows(p)).toEqual(rows);
  });

  it('refuses a file that is not Arrow IPC with one line naming it', async () => {
    const p = join(dir, '가짜.arrow');
    writeFileSync(p, 'arrow 아님\n');
    let err: unknown;
    try {
      await readAllRows(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`${p}: not a readable Arrow IPC file`);
  });

  it('an empty dataset writes a valid Arrow file that reads back as no rows', async () => {
    const p = join(dir, 'empty.arrow');
    expect(await writeRows(p, [])).toBe(0);
    expect(await readAllRows(p, { requireRows: false })).toEqual([]);
  });
});
