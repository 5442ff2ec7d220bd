import { describe, expect, it } from 'vitest';
import { findRefusal } from '../../src/text/refusal.ts';

describe('findRefusal', () => {
  it.each([
    ['AI 언어 모델로서 저는 개인적인 의견을 가질 수 없습니다.', 'ai_identity_ko'],
    ['저는 인공지능 언어 모델이기 때문에 감정이 없습니다.', 'ai_identity_ko'],
    ['죄송하지만 그 요청은 도와드릴 수 없습니다.', 'cannot_help_ko'],
    ['저는 실시간 정보에 접근할 수 없습니다.', 'no_realtime_ko'],
    ['As an AI language model, I cannot browse the web.', 'ai_identity_en'],
    ["I'm sorry, but I can't help with that request.", 'cannot_en'],
  ])('flags %s', (text, name) => {
    expect(findRefusal(text)?.name).toBe(name);
  });

  it.each([
    '김치찌개는 돼지고기를 볶은 뒤 김치를 넣고 끓이면 됩니다.',
    '인공지능 모델은 데이터를 학습해 패턴을 찾습니다.',
    '이 약은 임산부에게 처방할 수 없습니다. 복용 전 반드시 의사와 상담하세요.',
    'AI 반도체 시장은 빠르게 성장하고 있습니다.',
  ])('does not flag ordinary answers: %s', (text) => {
    expect(findRefusal(text)).toBeNull();
  });
});
