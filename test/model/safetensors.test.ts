import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromFloat32, readSafetensors, readSafetensorsDir, readSafetensorsHeader, toFloat32, writeSafetensors, type HostTensor } from '../../src/model/safetensors.ts';
import { UserError } from '../../src/util/errors.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ko-align-st-'));

function rawFile(header: Record<string, unknown>, data: Uint8Array, padTo8 = true): Buffer {
  let h = Buffer.from(JSON.stringify(header));
  if (padTo8 && h.length % 8) h = Buffer.concat([h, Buffer.alloc(8 - (h.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.from(data)]);
}

describe('safetensors', () => {
  it('round-trips float32 tensors exactly, with sorted names, 8-byte padded header and pt metadata', async () => {
    const d = tmp();
    const t: Record<string, HostTensor> = {
      'model.layers.0.mlp.up_proj.weight': { shape: [3, 2], data: Float32Array.from([1, -2, 3.5, 1e-8, -0, 7]) },
      'model.embed_tokens.weight': { shape: [2, 3], data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, Math.PI]) },
      'model.norm.weight': { shape: [1], data: Float32Array.from([1]) },
    };
    const p = join(d, 'model.safetensors');
    await writeSafetensors(p, t);
    expect(readdirSync(d)).toEqual(['model.safetensors']); // no temp file left
    const buf = readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    expect(header.__metadata__).toEqual({ format: 'pt' });
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names).toEqual([...names].sort());
    expect(header['model.embed_tokens.weight'].data_offsets).toEqual([0, 24]);
    const back = readSafetensors(p);
    for (const [k, v] of Object.entries(t)) {
      expect(back.get(k)!.shape).toEqual(v.shape);
      expect(Array.from(back.get(k)!.data)).toEqual(Array.from(v.data));
    }
  });

  it('converts F16 and BF16 to float32', () => {
    const d = tmp();
    const f16 = Uint16Array.from([0x3e00, 0xc000, 0x0001, 0x7c00, 0x0000]); // 1.5, -2, 2^-24, inf, 0
    const bf16 = Uint16Array.from([0x3fc0, 0xc000, 0x3f80]); // 1.5, -2, 1
    const data = new Uint8Array(16);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(bf16.buffer), 10);
    const p = join(d, 'x.safetensors');
    writeFileSync(p, rawFile({ a: { dtype: 'F16', shape: [5], data_offsets: [0, 10] }, b: { dtype: 'BF16', shape: [3], data_offsets: [10, 16] } }, data));
    const r = readSafetensors(p);
    expect(Array.from(r.get('a')!.data)).toEqual([1.5, -2, 2 ** -24, Infinity, 0]);
    expect(Array.from(r.get('b')!.data)).toEqual([1.5, -2, 1]);
  });

  it('writes BF16 and F16 rounded to nearest even, as torch .to(dtype) does', async () => {
    const bits = (x: number[], d: 'BF16' | 'F16') => Array.from(new Uint16Array(fromFloat32(Float32Array.from(x), d).slice().buffer));
    // 1/3 = 0x3eaaaaab; bf16 keeps the top 16 bits rounded: 0x3eab. 1 + 2^-8 is a bf16 tie -> even (1.0)
    expect(bits([1 / 3, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2, NaN], 'BF16')).toEqual([0x3eab, 0x3f80, 0x3f82, 0xc000, 0x7fc0]);
    // half: 65504 is the largest finite, 65520 rounds to inf, 2^-24 the smallest subnormal, 2^-25 ties to 0
    expect(bits([1 / 3, 65504, 65520, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, -0, Infinity], 'F16')).toEqual([0x3555, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0001, 0x8000, 0x7c00]);
    // every finite half / bfloat16 value survives float32 and back unchanged
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const d of ['F16', 'BF16'] as const) {
      const finite = all.filter((h) => (d === 'F16' ? (h & 0x7c00) !== 0x7c00 : (h & 0x7f80) !== 0x7f80));
      const back = new Uint16Array(fromFloat32(toFloat32(new Uint8Array(finite.buffer), d), d).slice().buffer);
      expect(back).toEqual(finite);
    }
    const dir = tmp();
    const p = join(dir, 'b.safetensors');
    await writeSafetensors(p, { '가중치': { shape: [2], data: Float32Array.from([0.5, -3]) } }, { format: 'pt' }, 'BF16');
    expect(readSafetensorsHeader(p).tensors.get('가중치')?.dtype).toBe('BF16');
    expect(Array.from(readSafetensors(p).get('가중치')!.data)).toEqual([0.5, -3]);
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', async () => {
    const d = tmp();
    await writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), { a: { shape: [2], data: Float32Array.from([1, 2]) } });
    await writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), { b: { shape: [1, 1], data: Float32Array.from([3]) } });
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
    const r = readSafetensorsDir(d);
    expect(Array.from(r.get('a')!.data)).toEqual([1, 2]);
    expect(r.get('b')!.shape).toEqual([1, 1]);
  });

  it('a truncated file is a UserError naming the file', async () => {
    const d = tmp();
    const p = join(d, 'model.safetensors');
    await writeSafetensors(p, { w: { shape: [4], data: Float32Array.from([1, 2, 3, 4]) } });
    const buf = readFileSync(p);
    writeFileSync(p, buf.subarray(0, buf.length - 3));
    expect(() => readSafetensors(p)).toThrow(UserError);
    expect(() => readSafetensors(p)).toThrow(new RegExp(`${p}: truncated safetensors file`));
    writeFileSync(p, buf.subarray(0, 5));
    expect(() => readSafetensorsHeader(p)).toThrow(/truncated/);
  });

  it('a corrupt header is a UserError naming the file and what is wrong', () => {
    const d = tmp();
    const p = join(d, 'bad.safetensors');
    writeFileSync(p, rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8)));
    expect(() => readSafetensors(p)).toThrow(/bad\.safetensors: corrupt safetensors header: tensor 'w' byte size 4 does not match shape \[2\] of F32/);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(4n);
    writeFileSync(p, Buffer.concat([len, Buffer.from('{ab}')]));
    expect(() => readSafetensors(p)).toThrow(/bad\.safetensors: corrupt safetensors header \(invalid JSON/);
    writeFileSync(p, rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)));
    expect(() => readSafetensors(p)).toThrow(/unknown dtype "Q4"/);
  });

  it('a missing weights file or tensor is named', () => {
    const d = tmp();
    expect(() => readSafetensorsDir(d)).toThrow(/no weights file \(expected model.safetensors/);
    expect(() => readSafetensors(join(d, 'nope.safetensors'))).toThrow(/nope\.safetensors: weights file not found/);
  });

  describe('the format\'s own validation: offsets tile the data from 0 to its end', () => {
    const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
    const check = (header: Record<string, unknown>, data: Uint8Array) => {
      const p = join(tmp(), 'model.safetensors');
      writeFileSync(p, rawFile(header, data));
      return () => readSafetensorsHeader(p);
    };

    it('overlapping data_offsets are refused, naming the tensor', () => {
      const read = check({ 'a.weight': { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, 'b.weight': { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32([1, 2, 3]));
      expect(read).toThrow(UserError);
      expect(read).toThrow(/tensor 'b\.weight' overlaps the tensor before it \(starts at data offset 4, expected 8\)/);
    });

    it('shifted offsets (a gap at the start) are refused', () => {
      const read = check({ 'a.weight': { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32([0, 1, 2]));
      expect(read).toThrow(/tensor 'a\.weight' leaves a gap before it \(starts at data offset 4, expected 0\)/);
    });

    it('trailing bytes after the last tensor are refused', () => {
      const read = check({ 'a.weight': { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32([1, 2, 3]));
      expect(read).toThrow(/corrupt safetensors file: 4 bytes after the last tensor/);
    });

    it('a well-formed file still reads', () => {
      const read = check({ 'a.weight': { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, 'b.weight': { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32([1, 2, 3]));
      expect([...read().tensors.keys()]).toEqual(['a.weight', 'b.weight']);
    });
  });

});
