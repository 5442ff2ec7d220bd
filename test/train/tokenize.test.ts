import { describe, expect, it } from 'vitest';
import { capMessages, IGNORE_INDEX, padExample, tokenizeChatForTraining, tokenizePromptCompletion } from '../../src/train/tokenize.ts';
import { tokenizeRows } from '../../src/train/sft.ts';
import type { Tokenizer } from '../../src/model/tokenizer.ts';
import { makeTestTokenizer, type TestTokenizerKind } from '../fixtures/tokenizer/tokenizers.ts';

const CONVERSATION = [
  { role: 'system', content: '당신은 친절한 한국어 도우미입니다.' },
  { role: 'user', content: '한글은 누가 만들었나요?' },
  { role: 'assistant', content: '세종대왕이 1443년에 창제했습니다.' },
  { role: 'user', content: '반포는 언제였나요?' },
  { role: 'assistant', content: '1446년에 훈민정음으로 반포되었습니다.' },
];

/** Contiguous runs of labelled positions, as [start, end) pairs. */
function labelledRuns(labels: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === IGNORE_INDEX) continue;
    const s = i;
    while (i < labels.length && labels[i] !== IGNORE_INDEX) i++;
    runs.push([s, i]);
  }
  return runs;
}

const KINDS: { kind: TestTokenizerKind; eot: string; trims: boolean }[] = [
  { kind: 'chatml', eot: '<|im_end|>', trims: false },
  { kind: 'qwen2.5', eot: '<|im_end|>', trims: false },
  { kind: 'llama3', eot: '<|eot_id|>', trims: true },
];

describe('tokenizeChatForTraining on real chat templates', () => {
  for (const { kind, eot } of KINDS) {
    it(`${kind}: exactly the assistant turns (content + ${eot}) carry labels, in every turn`, async () => {
      const tok = await makeTestTokenizer(kind);
      const ex = tokenizeChatForTraining(tok, CONVERSATION, { maxLength: 4096 });
      const full = tok.applyChatTemplate(CONVERSATION);
      expect(ex.input_ids).toEqual(tok.encode(full, { addSpecialTokens: false }));
      expect(ex.labels).toHaveLength(ex.input_ids.length);
      ex.labels.forEach((l, i) => expect(l === IGNORE_INDEX || l === ex.input_ids[i]).toBe(true));
      const runs = labelledRuns(ex.labels);
      const answers = CONVERSATION.filter((m) => m.role === 'assistant').map((m) => m.content);
      expect(runs.map(([s, e]) => tok.decode(ex.input_ids.slice(s, e)))).toEqual(answers.map((a) => a + eot));
      // the end-of-turn token itself is trained
      for (const [, e] of runs) expect(ex.input_ids[e - 1]).toBe(tok.tokenToId(eot));
      // nothing of the system prompt or the user turns is trained
      const untrained = tok.decode(ex.input_ids.filter((_, i) => ex.labels[i] === IGNORE_INDEX));
      expect(untrained).toContain('당신은 친절한 한국어 도우미입니다.');
      expect(untrained).toContain('반포는 언제였나요?');
      expect(untrained).not.toContain('세종대왕');
    });
  }

  it('qwen3: earlier turns lose their thinking block in the full rendering; each turn is still labelled as rendered', async () => {
    const tok = await makeTestTokenizer('qwen3');
    const msgs = [
      { role: 'user', content: '3 더하기 4는?' },
      { role: 'assistant', content: '<think>\n3에 4를 더한다.\n</think>\n\n7입니다.' },
      { role: 'user', content: '그럼 5를 더하면?' },
      { role: 'assistant', content: '12입니다.' },
    ];
    for (const boundaryMethod of ['auto', 'diff'] as const) {
      const ex = tokenizeChatForTraining(tok, msgs, { maxLength: 512, boundaryMethod });
      const runs = labelledRuns(ex.labels);
      // the last turn carries the (empty) thinking block the template writes for it
      expect(runs.map(([s, e]) => tok.decode(ex.input_ids.slice(s, e)))).toEqual(['7입니다.<|im_end|>', '<think>\n\n</think>\n\n12입니다.<|im_end|>']);
    }
    const kto = tokenizePromptCompletion(tok, msgs.slice(0, 3), '12입니다.', { maxLength: 512 });
    expect(tok.decode(kto.completion_ids)).toBe('<think>\n\n</think>\n\n12입니다.<|im_end|>');
  });

  it('llama3: labels follow the template, which trims the assistant content', async () => {
    const tok = await makeTestTokenizer('llama3');
    const msgs = [
      { role: 'user', content: '  인사해 주세요  ' },
      { role: 'assistant', content: '\n안녕하세요!\n' },
    ];
    const ex = tokenizeChatForTraining(tok, msgs, { maxLength: 512 });
    const runs = labelledRuns(ex.labels);
    expect(runs.map(([s, e]) => tok.decode(ex.input_ids.slice(s, e)))).toEqual(['안녕하세요!<|eot_id|>']);
    expect(ex.input_ids[0]).toBe(tok.bosTokenId); // BOS from the template, once
    expect(ex.input_ids.filter((t) => t === tok.bosTokenId)).toHaveLength(1);
  });

  it('the byte-offset fast path labels exactly what prefix re-encoding (diff) labels', async () => {
    const convs = [
      CONVERSATION,
      [
        { role: 'user', content: '  공백으로 시작하는 질문\n' },
        { role: 'assistant', content: '\n\n줄바꿈으로 시작하는 답변 😀  ' },
        { role: 'user', content: '코드는?' },
        { role: 'assistant', content: '```js\nconst x = "값";\n```' },
      ],
      [{ role: 'user', content: '빈 답변' }, { role: 'assistant', content: '' }],
    ];
    for (const kind of ['chatml', 'qwen2.5', 'llama3'] as const) {
      const tok = await makeTestTokenizer(kind);
      for (const c of convs) {
        const text = tok.applyChatTemplate(c);
        expect(tok.tokenByteLengths(tok.encode(text, { addSpecialTokens: false }), text)).not.toBeNull();
        const fast = tokenizeChatForTraining(tok, c, { maxLength: 4096 });
        const diff = tokenizeChatForTraining(tok, c, { maxLength: 4096, boundaryMethod: 'diff' });
        expect(fast).toEqual(diff);
      }
    }
  });

  it('a conversation without an assistant turn trains nothing', async () => {
    const tok = await makeTestTokenizer('chatml');
    const ex = tokenizeChatForTraining(tok, [{ role: 'user', content: '안녕?' }], { maxLength: 64 });
    expect(ex.input_ids.length).toBeGreaterThan(0);
    expect(ex.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
  });

  it('truncates from the right at maxLength, keeping labels aligned', async () => {
    const tok = await makeTestTokenizer('qwen2.5');
    const whole = tokenizeChatForTraining(tok, CONVERSATION, { maxLength: 4096 });
    const cut = tokenizeChatForTraining(tok, CONVERSATION, { maxLength: 40 });
    expect(cut.input_ids).toEqual(whole.input_ids.slice(0, 40));
    expect(cut.labels).toEqual(whole.labels.slice(0, 40));
  });

  it('a huge field is cut before tokenizing: same tokens as tokenizing it whole, never the whole text encoded', async () => {
    const tok = await makeTestTokenizer('qwen2.5');
    expect(tok.maxTokenChars).toBeGreaterThan(1);
    const long = '세종대왕은 훈민정음을 창제하여 백성이 글을 쉽게 익히도록 하였다. '.repeat(4000); // ~150k characters
    const msgs = [{ role: 'user', content: '한글의 역사를 길게 설명해 주세요.' }, { role: 'assistant', content: long }];
    const whole = tokenizeChatForTraining(tok, msgs, { maxLength: 48 });
    const capped = capMessages(msgs, 48, tok);
    expect(capped[1]!.content.length).toBeLessThan(long.length / 10);
    expect(tokenizeChatForTraining(tok, capped, { maxLength: 48 })).toEqual(whole);
    // tokenizeRows (what SFT runs) never hands the tokenizer the whole 5 MB answer.
    let longest = 0;
    const spy: Tokenizer = { ...tok, encode: (t, o) => ((longest = Math.max(longest, t.length)), tok.encode(t, o)), applyChatTemplate: (m, o) => tok.applyChatTemplate(m, o), tokenByteLengths: (i, t) => tok.tokenByteLengths(i, t) };
    const huge = '가나다라마바사 '.repeat(650_000); // 5.2 MB
    const [ex] = tokenizeRows([{ instruction: '긴 글', output: huge }], 'big.jsonl', 'auto', spy, 48);
    expect(ex!.input_ids).toHaveLength(48);
    expect(longest).toBeLessThan(100 * 1024);
  });

  it('capMessages keeps the tail of prompts (truncated from the left)', () => {
    const m = capMessages([{ role: 'user', content: `${'앞'.repeat(10_000)}끝` }], 1, { maxTokenChars: 2 }, 'tail');
    expect(m[0]!.content).toHaveLength((1 + 32) * 2);
    expect(m[0]!.content.endsWith('끝')).toBe(true);
  });

  it('rejects messages without string role/content', async () => {
    const tok = await makeTestTokenizer('chatml');
    expect(() => tokenizeChatForTraining(tok, [{ role: 'user' } as never], { maxLength: 8 })).toThrow(/message 0 must have string "role" and "content"/);
    expect(() => tokenizeChatForTraining(tok, [], { maxLength: 8 })).toThrow(/non-empty/);
  });

  it('padExample pads with the pad id, labels -100 and attention 0', async () => {
    const tok = await makeTestTokenizer('chatml');
    const ex = tokenizeChatForTraining(tok, CONVERSATION.slice(0, 3), { maxLength: 512 });
    const padded = padExample(ex, ex.input_ids.length + 3, tok.padTokenId);
    expect(padded.input_ids.slice(-3)).toEqual([tok.padTokenId, tok.padTokenId, tok.padTokenId]);
    expect(padded.labels.slice(-3)).toEqual([IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]);
    expect(padded.attention_mask.reduce((a, b) => a + b, 0)).toBe(ex.input_ids.length);
  });
});

describe('tokenizePromptCompletion (TRL KTO style)', () => {
  const decode = (tok: Tokenizer, ids: number[]) => tok.decode(ids);

  it('qwen2.5: prompt = template with generation prompt, completion = answer + <|im_end|>', async () => {
    const tok = await makeTestTokenizer('qwen2.5');
    const r = tokenizePromptCompletion(tok, '김치찌개 끓이는 법을 알려 주세요.', '김치와 돼지고기를 넣고 끓입니다.', { maxLength: 1024 });
    expect(decode(tok, r.prompt_ids)).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\n김치찌개 끓이는 법을 알려 주세요.<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(decode(tok, r.completion_ids)).toBe('김치와 돼지고기를 넣고 끓입니다.<|im_end|>');
    expect(r.completion_ids.at(-1)).toBe(tok.eosTokenId);
  });

  it('llama3: one BOS from the template, completion ends with <|eot_id|> (eos)', async () => {
    const tok = await makeTestTokenizer('llama3');
    const prompt = [
      { role: 'system', content: '한국어로 답하세요.' },
      { role: 'user', content: '서울의 인구는?' },
    ];
    const r = tokenizePromptCompletion(tok, prompt, [{ role: 'assistant', content: '약 940만 명입니다.' }], { maxLength: 1024 });
    expect(r.prompt_ids[0]).toBe(tok.bosTokenId);
    expect(r.prompt_ids.filter((t) => t === tok.bosTokenId)).toHaveLength(1);
    expect(decode(tok, r.prompt_ids).endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    expect(decode(tok, r.completion_ids)).toBe('약 940만 명입니다.<|eot_id|>');
  });

  it('prompt + completion are the SFT tokens of the same exchange, and the completion is what SFT trains', async () => {
    for (const kind of ['chatml', 'qwen2.5', 'llama3'] as const) {
      const tok = await makeTestTokenizer(kind);
      const msgs = [
        { role: 'user', content: '한국의 수도는?' },
        { role: 'assistant', content: '대한민국의 수도는 서울입니다.' },
      ];
      const r = tokenizePromptCompletion(tok, msgs.slice(0, 1), msgs.slice(1), { maxLength: 1024 });
      const sft = tokenizeChatForTraining(tok, msgs, { maxLength: 1024 });
      const n = r.prompt_ids.length + r.completion_ids.length;
      expect(sft.input_ids.slice(0, n)).toEqual([...r.prompt_ids, ...r.completion_ids]);
      expect(sft.input_ids.filter((_, i) => sft.labels[i] !== IGNORE_INDEX)).toEqual(r.completion_ids);
    }
  });

  it('plain-text mode without a chat template: completion + eos; messages are refused', async () => {
    const tok = await makeTestTokenizer('plain');
    const r = tokenizePromptCompletion(tok, '질문: 한국의 수도는?\n답:', ' 서울', { maxLength: 256 });
    expect(decode(tok, r.prompt_ids)).toBe('질문: 한국의 수도는?\n답:');
    expect(decode(tok, r.completion_ids)).toBe(' 서울<|endoftext|>');
    // a prompt whose last token merges with the completion (here the trailing space joins ' 서울')
    // gives that token to the completion, as TRL does
    const m = tokenizePromptCompletion(tok, '질문: 한국의 수도는?\n답: ', '서울', { maxLength: 256 });
    expect(decode(tok, [...m.prompt_ids, ...m.completion_ids])).toBe('질문: 한국의 수도는?\n답: 서울<|endoftext|>');
    expect(m.prompt_ids).toEqual(r.prompt_ids);
    expect(decode(tok, m.completion_ids)).toBe(' 서울<|endoftext|>');
    expect(() => tokenizePromptCompletion(tok, [{ role: 'user', content: '안녕' }], '네', { maxLength: 64 })).toThrow(/no chat template/);
  });

  it('plain mode with a BOS tokenizer puts BOS before the prompt once', async () => {
    const tok = await makeTestTokenizer('llama3');
    const r = tokenizePromptCompletion(tok, '질문: 안녕?', ' 네.', { maxLength: 256, chat: false });
    expect(r.prompt_ids[0]).toBe(tok.bosTokenId);
    expect(decode(tok, r.prompt_ids)).toBe('<|begin_of_text|>질문: 안녕?');
    expect(r.completion_ids.at(-1)).toBe(tok.eosTokenId);
  });

  it('truncates the prompt from the left (keeping BOS) and the completion from the right', async () => {
    const tok = await makeTestTokenizer('llama3');
    const longPrompt = '아주 긴 질문입니다. '.repeat(30);
    const longAnswer = '아주 긴 답변입니다. '.repeat(30);
    const whole = tokenizePromptCompletion(tok, longPrompt, longAnswer, { maxLength: 100_000 });
    const r = tokenizePromptCompletion(tok, longPrompt, longAnswer, { maxLength: 60, maxPromptLength: 24, maxCompletionLength: 50 });
    expect(r.prompt_ids).toHaveLength(24);
    expect(r.prompt_ids[0]).toBe(tok.bosTokenId);
    expect(r.prompt_ids.slice(1)).toEqual(whole.prompt_ids.slice(-23));
    expect(r.completion_ids).toEqual(whole.completion_ids.slice(0, 60 - 24));
    expect(r.prompt_ids.length + r.completion_ids.length).toBeLessThanOrEqual(60);
    const c2 = tokenizePromptCompletion(tok, longPrompt, longAnswer, { maxLength: 1000, maxCompletionLength: 10 });
    expect(c2.completion_ids).toEqual(whole.completion_ids.slice(0, 10));
    expect(c2.prompt_ids).toEqual(whole.prompt_ids);
  });
});
