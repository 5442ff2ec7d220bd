import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { answerText, detectFormat, promptText, readExamples, toExample, type Example } from '../../src/data/formats.ts';
import { UserError } from '../../src/util/errors.ts';

describe('detectFormat', () => {
  it('recognises each supported shape', () => {
    expect(detectFormat({ instruction: '요약해 줘', input: '', output: '요약' })).toBe('alpaca');
    expect(detectFormat({ conversations: [{ from: 'human', value: '안녕' }] })).toBe('sharegpt');
    expect(detectFormat({ messages: [{ role: 'user', content: '안녕' }] })).toBe('messages');
    expect(detectFormat({ prompt: '질문', completion: '답', label: true })).toBe('kto');
    expect(detectFormat({ prompt: '질문', completion: '답', kto_tag: false })).toBe('kto');
    expect(detectFormat({ prompt: '질문', completion: '답' })).toBe('prompt_completion');
    expect(detectFormat({ prompt: '질문만' })).toBe('prompt_completion');
    expect(detectFormat({ input_ids: [1, 2, 3], labels: [-100, 2, 3] })).toBe('pretokenized');
  });

  it('names where the row is and the keys it has when nothing fits', () => {
    expect(() => detectFormat({ 질문: '가', 답: '나' }, 'data.jsonl: row 7')).toThrow(UserError);
    expect(() => detectFormat({ 질문: '가', 답: '나' }, 'data.jsonl: row 7')).toThrow(
      /^data\.jsonl: row 7: row fits no known format \(keys: 질문, 답\); expected one of: instruction\/output \(alpaca\)/,
    );
  });
});

describe('toExample', () => {
  it('alpaca: instruction + input become the user turn, output the assistant turn, system first', () => {
    const ex = toExample({ system: '친절하게 답하세요.', instruction: '다음을 번역하세요.', input: '고맙습니다', output: 'Thank you' });
    expect(ex.messages).toEqual([
      { role: 'system', content: '친절하게 답하세요.' },
      { role: 'user', content: '다음을 번역하세요.\n고맙습니다' },
      { role: 'assistant', content: 'Thank you' },
    ]);
    expect(ex.format).toBe('alpaca');
    expect(ex.label).toBeUndefined();
  });

  it('alpaca with history (LLaMA-Factory) puts earlier turns first', () => {
    const ex = toExample({ instruction: '그럼 부산은?', output: '약 330만 명', history: [['서울 인구는?', '약 940만 명']] });
    expect(ex.messages.map((m) => m.content)).toEqual(['서울 인구는?', '약 940만 명', '그럼 부산은?', '약 330만 명']);
  });

  it('sharegpt with LLaMA-Factory tool roles: function_call is assistant output, observation a tool turn', () => {
    // LLaMA-Factory data/README.md: tags function_tag (default function_call), observation_tag
    // (default observation); human/observation in odd positions, gpt/function in even ones.
    const row = {
      conversations: [
        { from: 'human', value: '서울 날씨 알려 줘' },
        { from: 'function_call', value: '{"name": "날씨", "arguments": {"도시": "서울"}}' },
        { from: 'observation', value: '{"기온": 21}' },
        { from: 'gpt', value: '서울은 21도입니다.' },
      ],
      tools: '[{"name": "날씨"}]',
    };
    expect(toExample(row).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
  });

  it('sharegpt: human/gpt/system map to user/assistant/system', () => {
    const row = {
      conversations: [
        { from: 'system', value: '한국어 도우미' },
        { from: 'human', value: '김치란?' },
        { from: 'gpt', value: '발효 음식입니다.' },
        { from: 'human', value: '종류는?' },
        { from: 'gpt', value: '배추김치, 깍두기 등' },
      ],
    };
    const ex = toExample(row);
    expect(ex.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
    expect(answerText(ex)).toBe('배추김치, 깍두기 등');
    expect(promptText(ex)).toBe('system: 한국어 도우미\n\nuser: 김치란?\n\nassistant: 발효 음식입니다.\n\nuser: 종류는?');
    expect(ex.row).toBe(row);
  });

  it('messages: OpenAI-style content parts are joined as text', () => {
    const ex = toExample({
      messages: [
        { role: 'user', content: [{ type: 'text', text: '안녕' }, { type: 'text', text: '하세요' }] },
        { role: 'assistant', content: '반갑습니다' },
      ],
    });
    expect(ex.messages).toEqual([
      { role: 'user', content: '안녕하세요' },
      { role: 'assistant', content: '반갑습니다' },
    ]);
    expect(promptText(ex)).toBe('안녕하세요');
  });

  it('kto (TRL): prompt/completion/label as bool or desirable/undesirable', () => {
    const good = toExample({ prompt: '욕설 없이 답해 줘', completion: '네, 정중히 답하겠습니다.', label: true });
    expect(good.label).toBe(true);
    expect(good.format).toBe('kto');
    expect(promptText(good)).toBe('욕설 없이 답해 줘');
    expect(answerText(good)).toBe('네, 정중히 답하겠습니다.');
    expect(toExample({ prompt: '가', completion: '나', label: 'undesirable' }).label).toBe(false);
  });

  it('kto (TRL conversational): prompt and completion as message lists', () => {
    const ex = toExample({
      prompt: [{ role: 'user', content: '날씨 어때?' }],
      completion: [{ role: 'assistant', content: '맑습니다.' }],
      label: false,
    });
    expect(ex.messages).toEqual([
      { role: 'user', content: '날씨 어때?' },
      { role: 'assistant', content: '맑습니다.' },
    ]);
    expect(ex.label).toBe(false);
  });

  it("kto (LLaMA-Factory): a sharegpt row with kto_tag, also when format 'kto' is asked for", () => {
    const row = { conversations: [{ from: 'human', value: '질문' }, { from: 'gpt', value: '나쁜 답' }], kto_tag: false };
    expect(toExample(row).label).toBe(false);
    const ex = toExample(row, 'kto');
    expect(ex.format).toBe('kto');
    expect(ex.label).toBe(false);
  });

  it("format 'kto' refuses a row without a label", () => {
    expect(() => toExample({ prompt: '질문', completion: '답' }, 'kto', 'kto.jsonl: row 2')).toThrow(
      "kto.jsonl: row 2: KTO row has no 'label' (or 'kto_tag') (keys: prompt, completion)",
    );
  });

  it('pre-tokenized rows pass through with their ids and labels', () => {
    const ex = toExample({ input_ids: [5, 6, 7], labels: [-100, 6, 7] });
    expect(ex.messages).toEqual([]);
    expect(ex.inputIds).toEqual([5, 6, 7]);
    expect(ex.labels).toEqual([-100, 6, 7]);
    expect(() => toExample({ input_ids: [1, 2], labels: [1] }, undefined, 'tok.jsonl: row 1')).toThrow(
      "tok.jsonl: row 1: 'labels' has 1 entries but 'input_ids' has 2",
    );
  });

  it('refuses an unknown role naming the turn', () => {
    expect(() => toExample({ conversations: [{ from: '관리자', value: '도구 결과' }] }, undefined, 'sg.json: row 3')).toThrow(
      'sg.json: row 3: conversations[0] has role "관리자", expected one of system, user, assistant, tool (or human, gpt, function_call, observation)',
    );
  });

  it('refuses a label that is not a boolean', () => {
    expect(() => toExample({ prompt: '가', completion: '나', label: '아마도' }, undefined, 'r')).toThrow(
      `r: 'label' must be true/false (or desirable/undesirable), got "아마도"`,
    );
  });

  it('answerText is empty and promptText is the prompt when there is no assistant turn', () => {
    const ex: Example = toExample({ prompt: '빨간 모자 이야기를 해 줘' });
    expect(answerText(ex)).toBe('');
    expect(promptText(ex)).toBe('빨간 모자 이야기를 해 줘');
  });
});

describe('readExamples', () => {
  it('reads a file as Examples and names file and row in errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-formats-'));
    const p = join(dir, 'mixed.jsonl');
    writeFileSync(p, '{"instruction":"인사","output":"안녕"}\n{"prompt":"질문","completion":"답","label":true}\n{"제목":"알 수 없음"}\n');
    const got: Example[] = [];
    let err: Error | undefined;
    try {
      for await (const ex of readExamples(p)) got.push(ex);
    } catch (e) {
      err = e as Error;
    }
    expect(got.map((e) => e.format)).toEqual(['alpaca', 'kto']);
    expect(err).toBeInstanceOf(UserError);
    expect(err!.message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: row 3: row fits no known format \\(keys: 제목\\)`));
  });
});
