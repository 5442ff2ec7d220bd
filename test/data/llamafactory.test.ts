import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDatasetInfo, readLlamaFactoryDataset } from '../../src/data/llamafactory.ts';
import { toExample } from '../../src/data/formats.ts';
import { unpairPreferenceRows } from '../../src/train/kto.ts';

// Entries written as LLaMA-Factory's data/README.md documents dataset_info.json: file_name,
// formatting (alpaca | sharegpt), ranking, columns (prompt, query, response, history, messages,
// system, tools, chosen, rejected, kto_tag) and tags (role_tag, content_tag, user_tag,
// assistant_tag, observation_tag, function_tag, system_tag).
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ko-align-lf-'));
  const info = {
    ko_alpaca: { file_name: 'ko_alpaca.json', columns: { prompt: '지시', query: '입력', response: '출력', system: '시스템', history: '이력' } },
    ko_kto: { file_name: 'ko_kto.json', columns: { prompt: 'instruction', query: 'input', response: 'output', kto_tag: 'kto_tag' } },
    ko_pretrain: { file_name: 'ko_pt.jsonl', columns: { prompt: 'text' } },
    ko_openai: {
      file_name: 'ko_openai.json',
      formatting: 'sharegpt',
      columns: { messages: 'messages' },
      tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
    },
    ko_tools: { file_name: 'ko_tools.json', formatting: 'sharegpt', columns: { messages: 'conversations', system: 'system', tools: 'tools' } },
    ko_pref: { file_name: 'ko_pref.json', formatting: 'sharegpt', ranking: true, columns: { messages: 'conversations', chosen: 'chosen', rejected: 'rejected' } },
    hub_only: { hf_hub_url: 'someone/ko-data' },
  };
  writeFileSync(join(dir, 'dataset_info.json'), JSON.stringify(info));
  writeFileSync(join(dir, 'ko_alpaca.json'), JSON.stringify([{ 지시: '번역하세요.', 입력: '감사합니다', 출력: 'Thank you', 시스템: '번역가입니다.', 이력: [['안녕?', '안녕하세요!']] }]));
  writeFileSync(join(dir, 'ko_kto.json'), JSON.stringify([{ instruction: '수도는?', input: '', output: '서울', kto_tag: true }, { instruction: '수도는?', input: '', output: '몰라요', kto_tag: false }]));
  writeFileSync(join(dir, 'ko_pt.jsonl'), `${JSON.stringify({ text: '한국어 문서 하나.' })}\n`);
  writeFileSync(join(dir, 'ko_openai.json'), JSON.stringify([{ messages: [{ role: 'system', content: '도우미' }, { role: 'user', content: '안녕' }, { role: 'assistant', content: '반가워요' }] }]));
  writeFileSync(
    join(dir, 'ko_tools.json'),
    JSON.stringify([
      {
        conversations: [
          { from: 'human', value: '환율 알려 줘' },
          { from: 'function_call', value: '{"name": "환율", "arguments": {}}' },
          { from: 'observation', value: '{"원": 1380}' },
          { from: 'gpt', value: '1달러는 1380원입니다.' },
        ],
        system: '금융 도우미',
        tools: '[{"name": "환율"}]',
      },
    ]),
  );
  writeFileSync(
    join(dir, 'ko_pref.json'),
    JSON.stringify([{ conversations: [{ from: 'human', value: '인사해 줘' }], chosen: { from: 'gpt', value: '안녕하세요!' }, rejected: { from: 'gpt', value: '싫어요.' } }]),
  );
  return dir;
}

describe('LLaMA-Factory dataset_info.json', () => {
  it('alpaca with renamed columns, system and history reads as our alpaca rows', async () => {
    const [row] = await readLlamaFactoryDataset(project(), 'ko_alpaca');
    expect(toExample(row).messages).toEqual([
      { role: 'system', content: '번역가입니다.' },
      { role: 'user', content: '안녕?' },
      { role: 'assistant', content: '안녕하세요!' },
      { role: 'user', content: '번역하세요.\n감사합니다' },
      { role: 'assistant', content: 'Thank you' },
    ]);
  });

  it('kto_tag labels, pre-training {prompt: text}, and the OpenAI-style tags', async () => {
    const dir = project();
    const kto = await readLlamaFactoryDataset(join(dir, 'dataset_info.json'), 'ko_kto');
    expect(kto.map((r) => toExample(r, undefined, 'row', { kto: true }).label)).toEqual([true, false]);
    expect(await readLlamaFactoryDataset(dir, 'ko_pretrain')).toEqual([{ text: '한국어 문서 하나.' }]);
    const [chat] = await readLlamaFactoryDataset(dir, 'ko_openai');
    expect(toExample(chat).messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
  });

  it('sharegpt function_call / observation turns and the tools column', async () => {
    const [row] = await readLlamaFactoryDataset(project(), 'ko_tools');
    expect(row.tools).toBe('[{"name": "환율"}]');
    expect(toExample(row).messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant']);
  });

  it('a ranking entry becomes prompt/chosen/rejected, which KTO unpairs', async () => {
    const rows = unpairPreferenceRows(await readLlamaFactoryDataset(project(), 'ko_pref'));
    expect(rows.map((r) => [toExample(r).label, toExample(r).messages.at(-1)?.content])).toEqual([
      [true, '안녕하세요!'],
      [false, '싫어요.'],
    ]);
  });

  it('names a missing entry and refuses hub-only datasets', () => {
    const dir = project();
    expect(() => readDatasetInfo(dir, 'nope')).toThrow(/dataset_info\.json: no dataset 'nope' \(entries: ko_alpaca/);
    expect(() => readDatasetInfo(dir, 'hub_only')).toThrow(/'hf_hub_url' datasets are not downloaded here/);
  });
});
