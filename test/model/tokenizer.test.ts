import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { UserError } from '../../src/util/errors.ts';
import { makeTestTokenizer, makeTestTokenizerDir } from '../fixtures/tokenizer/tokenizers.ts';

const KOREAN = [
  '안녕하세요, 한국어 토크나이저입니다!',
  '세종대왕이 1443년에 훈민정음을 창제했습니다.',
  '자음 ㄱㄴㄷ, 모음 ㅏㅑㅓ, 옛한글 ᄒᆞᆫ, 이모지 😀👍🏽',
  '  앞뒤 공백과\n\t탭, 줄바꿈\r\n섞인 문장  ',
  '분해된 자모(NFD) 한글: \u1112\u1161\u11ab\u1100\u1173\u11af',
  'English and 한국어 mixed: const x = "값"; // 주석',
];

describe('loadTokenizer', () => {
  it('round-trips Korean text losslessly through encode and decode', async () => {
    const tok = await makeTestTokenizer('chatml');
    for (const s of KOREAN) {
      const ids = tok.encode(s);
      expect(ids.every((i) => Number.isInteger(i) && i >= 0 && i < tok.vocabSize)).toBe(true);
      expect(tok.decode(ids)).toBe(s);
    }
  });

  it('compresses Korean: learned merges give fewer tokens than UTF-8 bytes', async () => {
    const tok = await makeTestTokenizer('chatml');
    const s = '대규모 언어 모델은 방대한 텍스트로 사전 학습합니다.';
    expect(tok.encode(s).length).toBeLessThan(Buffer.byteLength(s) / 2);
  });

  it('maps each special token in text to a single id and decodes it back', async () => {
    const tok = await makeTestTokenizer('chatml');
    for (const t of ['<|endoftext|>', '<|im_start|>', '<|im_end|>']) {
      const ids = tok.encode(t);
      expect(ids).toHaveLength(1);
      expect(ids[0]).toBe(tok.tokenToId(t));
      expect(tok.specialTokenIds.has(ids[0])).toBe(true);
    }
    const ids = tok.encode('<|im_start|>user\n안녕<|im_end|>');
    expect(ids[0]).toBe(tok.tokenToId('<|im_start|>'));
    expect(ids[ids.length - 1]).toBe(tok.eosTokenId);
    expect(tok.decode(ids)).toBe('<|im_start|>user\n안녕<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\n안녕');
  });

  it('reads eos, pad and bos from tokenizer_config.json (ChatML: eos <|im_end|>, pad <|endoftext|>, no bos)', async () => {
    const tok = await makeTestTokenizer('chatml', 600);
    expect(tok.eosTokenId).toBe(tok.tokenToId('<|im_end|>'));
    expect(tok.padTokenId).toBe(tok.tokenToId('<|endoftext|>'));
    expect(tok.bosTokenId).toBeNull();
    expect(tok.vocabSize).toBe(600);
  });

  it('Llama-3 style: bos <|begin_of_text|> added only with special tokens, pad falls back to eos', async () => {
    const tok = await makeTestTokenizer('llama3');
    const bos = tok.tokenToId('<|begin_of_text|>')!;
    expect(tok.bosTokenId).toBe(bos);
    expect(tok.eosTokenId).toBe(tok.tokenToId('<|eot_id|>'));
    expect(tok.padTokenId).toBe(tok.eosTokenId);
    const withSpecial = tok.encode('안녕하세요');
    const without = tok.encode('안녕하세요', { addSpecialTokens: false });
    expect(withSpecial).toEqual([bos, ...without]);
  });

  it('hash changes with the chat template and is stable across loads', async () => {
    const { dir, tok } = await makeTestTokenizerDir('chatml');
    const again = await loadTokenizer(dir);
    expect(again.hash).toBe(tok.hash);
    expect(tok.hash).toMatch(/^[0-9a-f]{64}$/);
    const copy = mkdtempSync(join(tmpdir(), 'ko-align-tokcopy-'));
    cpSync(dir, copy, { recursive: true });
    writeFileSync(join(copy, 'chat_template.jinja'), '{% for m in messages %}{{ m.content }}{% endfor %}');
    const other = await loadTokenizer(copy);
    expect(other.hash).not.toBe(tok.hash);
    // chat_template.jinja wins over tokenizer_config.json, as in transformers
    expect(other.applyChatTemplate([{ role: 'user', content: '가' }, { role: 'assistant', content: '나' }])).toBe('가나');
  });

  it('a missing tokenizer.json is a UserError naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-notok-'));
    const p = loadTokenizer(dir);
    await expect(p).rejects.toThrow(UserError);
    await expect(loadTokenizer(dir)).rejects.toThrow(join(dir, 'tokenizer.json'));
    rmSync(dir, { recursive: true });
  });

  it('a broken tokenizer_config.json is a UserError naming the file', async () => {
    const { dir } = await makeTestTokenizerDir('chatml');
    const copy = mkdtempSync(join(tmpdir(), 'ko-align-tokbad-'));
    cpSync(dir, copy, { recursive: true });
    writeFileSync(join(copy, 'tokenizer_config.json'), '{"eos_token": ');
    await expect(loadTokenizer(copy)).rejects.toThrow(/tokenizer_config\.json: invalid JSON/);
    writeFileSync(join(copy, 'tokenizer_config.json'), '{"eos_token": "<|없는토큰|>"}');
    await expect(loadTokenizer(copy)).rejects.toThrow(/eos_token '<\|없는토큰\|>' is not in the vocabulary/);
  });

  it('without a chat template, applyChatTemplate is a UserError saying so', async () => {
    const tok = await makeTestTokenizer('plain');
    expect(tok.chatTemplate).toBeNull();
    expect(() => tok.applyChatTemplate([{ role: 'user', content: '안녕' }])).toThrow(/no chat_template/);
  });

  it('tokenByteLengths spells the text bytes for byte-level BPE, and refuses text an NFC normalizer would change', async () => {
    const { dir, tok } = await makeTestTokenizerDir('chatml');
    const s = '<|im_start|>user\n세종대왕 😀<|im_end|>';
    const ids = tok.encode(s);
    const lens = tok.tokenByteLengths(ids, s)!;
    expect(lens.reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength(s));
    expect(lens[0]).toBe(Buffer.byteLength('<|im_start|>'));
    expect(tok.tokenByteLengths(ids, s + '더')).toBeNull(); // does not spell that text
    const copy = mkdtempSync(join(tmpdir(), 'ko-align-toknfc-'));
    cpSync(dir, copy, { recursive: true });
    const tj = JSON.parse(readFileSync(join(copy, 'tokenizer.json'), 'utf8'));
    tj.normalizer = { type: 'NFC' };
    writeFileSync(join(copy, 'tokenizer.json'), JSON.stringify(tj));
    const nfc = await loadTokenizer(copy);
    const nfd = '한국'.normalize('NFD');
    expect(nfc.decode(nfc.encode(nfd))).toBe('한국'); // NFC-normalized, as Qwen2's tokenizer does
    expect(nfc.tokenByteLengths(nfc.encode(nfd), nfd)).toBeNull();
    expect(nfc.tokenByteLengths(nfc.encode('한국'), '한국')).not.toBeNull();
  });

  it('reads merges in the newer [["a","b"]] form (tokenizers >= 0.20) the same as "a b" strings', async () => {
    const { dir, tok } = await makeTestTokenizerDir('chatml');
    const copy = mkdtempSync(join(tmpdir(), 'ko-align-tokmerges-'));
    cpSync(dir, copy, { recursive: true });
    const tj = JSON.parse(readFileSync(join(copy, 'tokenizer.json'), 'utf8'));
    tj.model.merges = (tj.model.merges as string[]).map((m) => m.split(' '));
    writeFileSync(join(copy, 'tokenizer.json'), JSON.stringify(tj));
    const arrays = await loadTokenizer(copy);
    for (const s of KOREAN) expect(arrays.encode(s)).toEqual(tok.encode(s));
  });

  it('decodes an empty id list to an empty string and encodes empty text to no ids', async () => {
    const tok = await makeTestTokenizer('chatml');
    expect(tok.decode([])).toBe('');
    expect(tok.encode('', { addSpecialTokens: false })).toEqual([]);
  });
});
