/** Korean scored rows (the judge's output shape) shared by the review tests. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '../../src/data/io.ts';

/** Text that would run script or break markup if it were ever treated as HTML. */
export const PAYLOADS = {
  script: '<script>window.__pwned = "script";</script>',
  img: '<img src=x onerror="window.__pwned = \'img\'">',
  textarea: '</textarea><script>window.__pwned = "textarea"</script>',
  closeScript: '</script><script>window.__pwned = "close-script"</script>',
  svg: '<svg onload="window.__pwned=\'svg\'"></svg>',
  quotes: `"큰따옴표" 'apostrophe' & 앰퍼샌드 \u2028줄구분`,
};

export function scoredRows(): Row[] {
  return [
    { prompt: '대한민국의 수도는 어디인가요?', answer: '대한민국의 수도는 서울입니다.', judge_score: 9, judge_reason: '정확하고 자연스러운 답변', judge_status: 'ok', judge_model: 'heuristic-v1' },
    { prompt: '김치찌개 끓이는 법을 알려줘', answer: '김치를 볶은 뒤 물을 붓고 돼지고기와 두부를 넣어 끓입니다.', judge_score: 8, judge_reason: '유용함', judge_status: 'ok', judge_model: 'heuristic-v1' },
    { prompt: `${PAYLOADS.script} 이 코드가 뭔가요?`, answer: `${PAYLOADS.img} 이미지 태그입니다. ${PAYLOADS.textarea}`, judge_score: 3, judge_reason: PAYLOADS.closeScript, judge_status: 'ok', judge_model: 'heuristic-v1' },
    { prompt: '따옴표가 들어간 질문', answer: `${PAYLOADS.quotes} ${PAYLOADS.svg}`, judge_score: 6, judge_reason: '보통', judge_status: 'ok', judge_model: 'heuristic-v1' },
    { prompt: '영어로 대답해도 되나요?', answer: 'Yes, 물론입니다. 日本語も大丈夫です。', judge_score: 4, judge_reason: '언어 혼용', judge_status: 'ok', judge_model: 'heuristic-v1' },
    { prompt: '판정에 실패한 항목', answer: '짧은 답변', judge_score: null, judge_reason: null, judge_status: 'failed', judge_model: 'heuristic-v1' },
    {
      messages: [
        { role: 'user', content: '=SUM(A1:A9) 이 수식은 무엇인가요?' },
        { role: 'assistant', content: '+A1부터 A9까지 더하는 엑셀 수식입니다.' },
      ],
      judge_score: 7,
      judge_reason: '정확함',
      judge_status: 'ok',
      judge_model: 'heuristic-v1',
    },
  ];
}

/** Many rows over the 1..10 score scale, for sampling tests. */
export function manyRows(n: number): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    // Skewed: most items score high, as after curation.
    const score = i % 10 < 6 ? 9 : i % 10 < 8 ? 7 : i % 10 < 9 ? 5 : 2;
    rows.push({ prompt: `질문 ${i}번: 한국어 문장을 요약해 주세요.`, answer: `요약 ${i}: 핵심 내용입니다.`, judge_score: score, judge_reason: `점수 ${score}`, judge_status: 'ok' });
  }
  return rows;
}

export async function tempDir(prefix = 'ko-align-review-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function writeJsonl(path: string, rows: Row[]): Promise<string> {
  await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}
