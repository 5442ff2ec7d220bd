import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTokenizer, bytesToUnicode, preTokenize, trainBpe, SPECIAL_TOKENS } from '../../src/model/tokenizer-builder.ts';
import { UserError } from '../../src/util/errors.ts';
import { koreanCorpus, makeTestTokenizer } from '../fixtures/tokenizer/tokenizers.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ko-align-tokb-'));
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

describe('buildTokenizer', () => {
  it('writes tokenizer.json (BPE, 256 bytes + merges + special tokens), tokenizer_config.json and special_tokens_map.json', async () => {
    const out = tmp();
    const r = await buildTokenizer({ vocabSize: 400, corpus: koreanCorpus(), outDir: out });
    expect(r.vocabSize).toBe(400);
    const tj = readJson(join(out, 'tokenizer.json'));
    expect(tj.model.type).toBe('BPE');
    expect(Object.keys(tj.model.vocab)).toHaveLength(400 - SPECIAL_TOKENS.length);
    expect(tj.model.merges.length).toBe(r.merges);
    expect(tj.pre_tokenizer.pretokenizers.map((p: { type: string }) => p.type)).toEqual(['Split', 'ByteLevel']);
    expect(tj.decoder.type).toBe('ByteLevel');
    expect(tj.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id])).toEqual([
      ['<|endoftext|>', 397],
      ['<|im_start|>', 398],
      ['<|im_end|>', 399],
    ]);
    // every merge is two existing tokens whose concatenation is in the vocab
    for (const m of tj.model.merges as string[]) {
      const [a, b] = m.split(' ');
      expect(tj.model.vocab[a]).toBeTypeOf('number');
      expect(tj.model.vocab[b]).toBeTypeOf('number');
      expect(tj.model.vocab[a + b]).toBeTypeOf('number');
    }
    const cfg = readJson(join(out, 'tokenizer_config.json'));
    expect(cfg.eos_token).toBe('<|im_end|>');
    expect(cfg.pad_token).toBe('<|endoftext|>');
    expect(cfg.bos_token).toBeNull();
    expect(cfg.chat_template).toContain('<|im_start|>');
    expect(cfg.chat_template).toContain('add_generation_prompt');
    const sm = readJson(join(out, 'special_tokens_map.json'));
    expect(sm.eos_token.content).toBe('<|im_end|>');
  });

  it('learns frequent Korean syllables and words as merges', async () => {
    const { vocab } = trainBpe(koreanCorpus(), 600);
    const decoder = new Map(bytesToUnicode().map((c, b) => [c, b]));
    const decoded = new Set(vocab.map((t) => Buffer.from([...t].map((c) => decoder.get(c)!)).toString('utf8')));
    expect(decoded.has('습니다')).toBe(true);
    expect(decoded.has('한')).toBe(true);
  });

  it('is deterministic: the same corpus gives byte-identical files', async () => {
    const a = tmp(), b = tmp();
    await buildTokenizer({ vocabSize: 500, corpus: koreanCorpus(), outDir: a });
    await buildTokenizer({ vocabSize: 500, corpus: koreanCorpus(), outDir: b });
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      expect(readFileSync(join(a, f), 'utf8')).toBe(readFileSync(join(b, f), 'utf8'));
    }
  });

  it('trains vocab 512 on ~100 KB of Korean text in under 2 s', async () => {
    const base = koreanCorpus();
    const corpus: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 100_000; i++) {
      const line = `${base[i % base.length]} ${i}`;
      corpus.push(line);
      bytes += Buffer.byteLength(line);
    }
    const t0 = performance.now();
    await buildTokenizer({ vocabSize: 512, corpus, outDir: tmp() });
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('stops early with fewer ids when the corpus runs out of pairs, specials right after', async () => {
    const out = tmp();
    const r = await buildTokenizer({ vocabSize: 1000, corpus: ['가나'], outDir: out });
    // '가나' is 6 bytes: at most 5 merges
    expect(r.merges).toBeLessThanOrEqual(5);
    expect(r.vocabSize).toBe(256 + r.merges + 3);
    expect(r.specialTokenIds['<|im_end|>']).toBe(r.vocabSize - 1);
  });

  it('rejects a vocab size too small for bytes + special tokens', async () => {
    await expect(buildTokenizer({ vocabSize: 100, corpus: ['안녕'], outDir: tmp() })).rejects.toThrow(UserError);
    await expect(buildTokenizer({ vocabSize: 100, corpus: ['안녕'], outDir: tmp() })).rejects.toThrow(/vocab size/);
  });

  it('training splits text exactly where tokenizers.js splits it at run time (the Oniguruma regex in tokenizer.json)', async () => {
    const tok = await makeTestTokenizer('chatml');
    const texts = [...koreanCorpus(), "I'm 'Tom' and THEY'LL say 'hi'.\r\n  x", '숫자 12345와 기호 !!?? ... --- ㅋㅋㅋ', '\n\n  \t들여쓰기\n'];
    for (const t of texts) {
      const pieces = preTokenize(t);
      expect(pieces.join('')).toBe(t);
      expect(pieces.flatMap((p) => tok.encode(p, { addSpecialTokens: false }))).toEqual(tok.encode(t, { addSpecialTokens: false }));
    }
  });

  it('pre-tokenizes like Qwen2: letters with one leading space, single digits, newlines apart', () => {
    expect(preTokenize('안녕 하세요 123\n다음')).toEqual(['안녕', ' 하세요', ' ', '1', '2', '3', '\n', '다음']);
  });
});
