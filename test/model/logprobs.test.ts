import { describe, expect, it } from 'vitest';
import { rowsToScoreInputs } from '../../src/model/logprobs.ts';
import { makeTestTokenizerDir } from '../fixtures/tokenizer/tokenizers.ts';

// The README's "Data formats read everywhere" (alpaca, sharegpt, messages, KTO kto_tag chats,
// prompt/completion, pre-tokenized): `ko-align logprobs` scores the assistant turns of each.
describe('logprobs rows in every format read everywhere', () => {
  it('alpaca, sharegpt and a kto_tag chat score exactly what the same messages row scores', async () => {
    const { dir } = await makeTestTokenizerDir('chatml');
    const messages = [
      { role: 'user', content: '한국의 수도는?' },
      { role: 'assistant', content: '서울입니다.' },
    ];
    const rows = [
      { messages },
      { instruction: '한국의 수도는?', output: '서울입니다.' },
      { conversations: [{ from: 'human', value: '한국의 수도는?' }, { from: 'gpt', value: '서울입니다.' }] },
      { messages, kto_tag: true },
    ];
    const got = await rowsToScoreInputs(rows, 'rows.jsonl', dir, 1 << 20);
    for (const g of got.slice(1)) {
      expect(g.ids).toEqual(got[0].ids);
      expect(g.scored).toEqual(got[0].scored);
    }
    expect(got[0].scored!.some(Boolean)).toBe(true);
  });

  it('a row in no known format is refused, naming what is read', async () => {
    const { dir } = await makeTestTokenizerDir('chatml');
    await expect(rowsToScoreInputs([{ 본문: '텍스트' }], 'rows.jsonl', dir, 1 << 20)).rejects.toThrow(/rows\.jsonl: row 1: expected "input_ids", "prompt" \+ "completion", "messages", sharegpt "conversations" or alpaca "instruction"/);
  });
});
