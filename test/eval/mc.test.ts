import { describe, expect, it } from 'vitest';
import { detectTask, evaluateMc, fewShotPrefix, toMcItem, type ContinuationScorer } from '../../src/eval/mc.ts';

const kmmlu = { question: '대한민국의 수도는?', A: '부산', B: '서울', C: '대구', D: '광주', answer: 2 };

describe('multiple-choice evaluation', () => {
  it('detects KMMLU, KorMedMCQA and KoBEST layouts from their columns', () => {
    expect(detectTask(kmmlu, 'x')).toBe('kmmlu');
    expect(detectTask({ ...kmmlu, E: '인천' }, 'x')).toBe('kormedmcqa');
    expect(detectTask({ paragraph: '문단', question: '질문', label: 1 }, 'x')).toBe('kobest_boolq');
    expect(detectTask({ premise: '비가 왔다.', question: '결과', alternative_1: '우산을 썼다', alternative_2: '햇볕이 났다', label: 0 }, 'x')).toBe('kobest_copa');
    expect(detectTask({ sentence: '정말 좋았다', label: 1 }, 'x')).toBe('kobest_sentineg');
    expect(() => detectTask({ 질문: '?' }, 'data.jsonl:3')).toThrow(/data.jsonl:3: cannot tell the task/);
  });

  it('maps the 1-indexed KMMLU answer to the option letter continuations', () => {
    const item = toMcItem(kmmlu, 'kmmlu', 'x');
    expect(item.gold).toBe(1);
    expect(item.choices).toEqual([' A', ' B', ' C', ' D']);
    expect(item.context).toBe('대한민국의 수도는?\nA. 부산\nB. 서울\nC. 대구\nD. 광주\n정답:');
    expect(() => toMcItem({ ...kmmlu, answer: 5 }, 'kmmlu', 'kmmlu.jsonl:7')).toThrow(/kmmlu.jsonl:7: answer must be 1..4/);
  });

  it('uses the COPA connector that matches the question type', () => {
    expect(toMcItem({ premise: '비가 왔다.', question: '결과', alternative_1: '우산을 썼다', alternative_2: '해가 떴다', label: 0 }, 'kobest_copa', 'x').context).toBe('비가 왔다 그래서');
    expect(toMcItem({ premise: '바닥이 젖었다.', question: '원인', alternative_1: '비가 왔다', alternative_2: '눈이 왔다', label: 0 }, 'kobest_copa', 'x').context).toBe('바닥이 젖었다 왜냐하면');
  });

  it('scores acc by summed log-prob and acc_norm by log-prob per character', async () => {
    const items = [
      { context: 'q1', choices: [' 짧', ' 아주 긴 답'], gold: 1 },
      { context: 'q2', choices: [' 가', ' 나'], gold: 0 },
    ];
    // The long option has the lower sum but the higher per-character log-prob.
    const table: Record<string, number> = { 'q1| 짧': -2, 'q1| 아주 긴 답': -3, 'q2| 가': -1, 'q2| 나': -4 };
    const scorer: ContinuationScorer = async (pairs) => pairs.map((p) => table[`${p.context}| ${p.continuation.trim()}`]);
    const r = await evaluateMc(items, '', scorer);
    expect(r.acc).toBe(0.5);
    expect(r.acc_norm).toBe(1);
  });

  it('builds a reproducible few-shot prefix with solved examples', () => {
    const dev = [0, 1, 2, 3].map((i) => toMcItem({ ...kmmlu, question: `문제 ${i}` }, 'kmmlu', 'x'));
    const a = fewShotPrefix(dev, 2, 1);
    expect(a).toBe(fewShotPrefix(dev, 2, 1));
    expect(a.split('정답: B').length - 1).toBe(2);
    expect(() => fewShotPrefix(dev, 5, 1)).toThrow(/--shots 5 needs at least 5/);
  });
});
