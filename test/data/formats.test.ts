import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  answerText, applyColumns, describeFormatChoice, detectFormat, explainFormat, mappedFormat, passThroughColumns, promptText, readExamples, toExample, type Example,
} from '../../src/data/formats.ts';
import { readAllRows } from '../../src/data/io.ts';
import { repoRoot } from '../helpers/cli.ts';
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

  it("kto (LLaMA-Factory): a sharegpt row with kto_tag is KTO when format 'kto' or a KTO dataset is asked for", () => {
    const row = { conversations: [{ from: 'human', value: '질문' }, { from: 'gpt', value: '나쁜 답' }], kto_tag: false };
    // Outside KTO the tag is a column like any other: not read, not validated, kept in the row.
    const plain = toExample(row);
    expect(plain.format).toBe('sharegpt');
    expect(plain.label).toBeUndefined();
    expect(plain.row.kto_tag).toBe(false);
    for (const ex of [toExample(row, 'kto'), toExample(row, undefined, 'r', { kto: true })]) {
      expect(ex.format).toBe('kto');
      expect(ex.label).toBe(false);
    }
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

  it('refuses a label that is not a boolean where a KTO row is wanted, and passes it through elsewhere', () => {
    const row = { prompt: '가', completion: '나', label: '아마도' };
    expect(() => toExample(row, 'kto', 'r')).toThrow(`r: 'label' must be true/false (or desirable/undesirable), got "아마도"`);
    expect(() => toExample(row, undefined, 'r', { kto: true })).toThrow(`r: 'label' must be true/false (or desirable/undesirable), got "아마도"`);
    const ex = toExample(row, undefined, 'r');
    expect(ex.format).toBe('prompt_completion');
    expect(ex.row.label).toBe('아마도');
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

const PUBLISHED = join(repoRoot, 'test', 'fixtures', 'data', 'published');
const jsonl = (name: string) => readFileSync(join(PUBLISHED, name), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('published datasets: columns an adapter does not read pass through', () => {
  // A chat Q/A set whose rows carry a topic class named `label` (0 daily, 1 negative, 2 positive),
  // as songys/Chatbot_data publishes it, here as messages rows with more common extra columns.
  const rows = jsonl('chat-category.jsonl');

  it('reads messages rows with a 0/1/2 topic label without reading the label, every column kept', () => {
    for (const [i, row] of rows.entries()) {
      const ex = toExample(row, undefined, `chat-category.jsonl: row ${i + 1}`);
      expect(ex.format).toBe('messages');
      expect(ex.label).toBeUndefined();
      expect(ex.row).toEqual(row);
    }
    expect(rows.map((r) => r.label)).toEqual([0, 1, 2, 0]);
    expect(answerText(toExample(rows[1]))).toBe('충분히 슬퍼해도 괜찮아요. 곁에 있는 사람에게 이야기해 보세요.');
  });

  it('says which format it chose and why, and which columns pass through', () => {
    expect(explainFormat(rows[0])).toEqual({ format: 'messages', reason: "column 'messages' is a list of {role, content} turns" });
    expect(passThroughColumns(rows[0], 'messages')).toEqual(['label', 'id', 'source', 'category', 'score', 'split']);
    expect(describeFormatChoice('chat.jsonl', rows[0])).toBe(
      "chat.jsonl: read as messages (auto: column 'messages' is a list of {role, content} turns); passed through untouched: label, id, source, category, score, split",
    );
    expect(describeFormatChoice('chat.jsonl', rows[0], 'messages')).toBe(
      "chat.jsonl: read as messages (format 'messages' was asked for); passed through untouched: label, id, source, category, score, split",
    );
  });

  it('a prompt/completion row is KTO only when its label holds a KTO value', () => {
    const topic = { prompt: '오늘 기분 어때?', completion: '좋아요!', label: 2, category: '사랑' };
    expect(detectFormat(topic)).toBe('prompt_completion');
    expect(explainFormat(topic).reason).toBe("columns 'prompt' and 'completion'; 'label' (2) is not a KTO label, passed through");
    expect(toExample(topic).label).toBeUndefined();
    expect(detectFormat({ ...topic, label: 'desirable' })).toBe('kto');
    expect(toExample({ ...topic, label: 'desirable' }).label).toBe(true);
  });

  it('a KTO dataset built from such rows names the row and the label it cannot read', () => {
    expect(() => toExample(rows[2], undefined, 'chat-category.jsonl: row 3', { kto: true })).toThrow(
      "chat-category.jsonl: row 3: 'label' must be true/false (or desirable/undesirable), got 2",
    );
    expect(describeFormatChoice('kto.jsonl', { messages: rows[0].messages, kto_tag: true, id: 'x' }, undefined, { kto: true })).toBe(
      "kto.jsonl: read as kto (messages rows, label from 'kto_tag'; auto: column 'messages' is a list of {role, content} turns); passed through untouched: id",
    );
  });

  it('an asked-for format wins over detection', () => {
    const row = { messages: [{ role: 'user', content: '안녕' }, { role: 'assistant', content: '반가워요' }], prompt: '다른 열' };
    expect(toExample(row).format).toBe('messages');
    const ex = toExample(row, 'prompt_completion');
    expect(ex.format).toBe('prompt_completion');
    expect(promptText(ex)).toBe('다른 열');
  });
});

describe('applyColumns: a dataset\'s own column names', () => {
  it('maps Q / A / label of songys/Chatbot_data onto prompt and answer; the topic label stays a column', async () => {
    // ChatbotData.csv as published (github.com/songys/Chatbot_data): Q, A, label (0/1/2 topic).
    const rows = await readAllRows(join(PUBLISHED, 'chatbot-data.csv'));
    const columns = { prompt: 'Q', answer: 'A' };
    expect(mappedFormat(columns)).toBe('prompt_completion');
    const exs = rows.map((r, i) => toExample(applyColumns(r, columns, `row ${i + 1}`), mappedFormat(columns), `row ${i + 1}`));
    expect(exs.map((e) => promptText(e))).toContain('헤어진 지 한 달이 됐어');
    expect(answerText(exs[2])).toBe('아직 마음이 많이 아프겠어요.');
    expect(exs.every((e) => e.label === undefined)).toBe(true);
    expect(exs[4].row).toMatchObject({ Q: '좋아하는 사람이 생겼어', A: '설레는 마음이 느껴지네요.', label: 2 });
  });

  it('maps a KTO label column for a KTO dataset', () => {
    const rows = jsonl('kto-renamed.jsonl');
    const columns = { prompt: 'question', answer: 'response', label: 'is_good' };
    const labels = rows.map((r, i) => toExample(applyColumns(r, columns, `row ${i + 1}`), mappedFormat(columns), `row ${i + 1}`, { kto: true }).label);
    expect(labels).toEqual([true, false, true, false]);
  });

  it('names the file row, the mapping key and the row keys when a mapped column is missing', () => {
    expect(() => applyColumns({ 질문: '가', answer_text: '나' }, { prompt: 'question', answer: 'answer_text' }, 'qa.jsonl: row 4')).toThrow(
      "qa.jsonl: row 4: column 'question' (columns.prompt) not found (keys: 질문, answer_text)",
    );
  });

  it('readExamples takes the mapping too', async () => {
    const got: Example[] = [];
    for await (const ex of readExamples(join(PUBLISHED, 'qa-renamed.jsonl'), undefined, { columns: { prompt: 'question', answer: 'answer_text' } })) got.push(ex);
    expect(got.map((e) => answerText(e))).toEqual(['한국의 수도는 서울입니다.', '배추를 소금에 절여 양념해 발효시킨 음식입니다.', '조선의 세종대왕이 만들었습니다.']);
    expect(got[2].row.split).toBe('test');
  });
});
