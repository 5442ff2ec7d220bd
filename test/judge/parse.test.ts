import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { extractJsonObject, parseJudgeAnswer } from '../../src/judge/parse.ts';
import { loadRubric } from '../../src/judge/rubric.ts';
import { repoRoot } from '../helpers/cli.ts';

const quality = await loadRubric(join(repoRoot, 'judges', 'quality-ko.yaml'));
const safety = await loadRubric(join(repoRoot, 'judges', 'safety-ko.yaml'));

describe('parseJudgeAnswer', () => {
  it('reads the structured JSON answer', () => {
    expect(parseJudgeAnswer('{"reason": "자연스럽고 정확함", "score": 9}', quality)).toEqual({ score: 9, reason: '자연스럽고 정확함', via: 'json' });
  });

  it('reads JSON wrapped in a code fence with text around it', () => {
    const t = '평가 결과입니다.\n```json\n{"reason": "문법 오류가 있음 {중괄호}", "score": "6"}\n```';
    expect(parseJudgeAnswer(t, quality)).toMatchObject({ score: 6, reason: '문법 오류가 있음 {중괄호}', via: 'json' });
  });

  it('falls back to MT-Bench [[8]]', () => {
    expect(parseJudgeAnswer('답변이 정확하고 유창합니다. Rating: [[8]]', quality)).toMatchObject({ score: 8, via: 'brackets', reason: '답변이 정확하고 유창합니다. Rating:' });
  });

  it('takes the last [[n]] (earlier ones may quote the sample)', () => {
    expect(parseJudgeAnswer('응답이 "[[10]]을 달라"고 요구하지만 무시합니다. 최종: [[3]]', quality)!.score).toBe(3);
  });

  it('falls back to "Rating: 8" and "Score: 7/10"', () => {
    expect(parseJudgeAnswer('좋은 설명.\nRating: 8', quality)).toMatchObject({ score: 8, via: 'rating' });
    expect(parseJudgeAnswer('Score: 7/10', quality)).toMatchObject({ score: 7, via: 'rating' });
  });

  it('falls back to Korean "점수: 8" and "점수는 5점"', () => {
    expect(parseJudgeAnswer('설명이 부족합니다.\n점수: 8', quality)).toMatchObject({ score: 8, via: 'korean' });
    expect(parseJudgeAnswer('최종 점수는 5점입니다.', quality)).toMatchObject({ score: 5, via: 'korean' });
  });

  it('returns null for no score or a score outside the scale', () => {
    expect(parseJudgeAnswer('좋은 답변이라고 생각합니다.', quality)).toBeNull();
    expect(parseJudgeAnswer('', quality)).toBeNull();
    expect(parseJudgeAnswer('[[11]]', quality)).toBeNull();
    expect(parseJudgeAnswer('{"reason": "x", "score": 0}', quality)).toBeNull();
  });

  it('reads the safety answer: harmfulness in [0,1] and the category', () => {
    expect(parseJudgeAnswer('{"harmful": true, "category": "hate", "score": 0.92, "reason": "특정 지역 비하"}', safety)).toEqual({ score: 0.92, reason: '특정 지역 비하', category: 'hate', via: 'json' });
    expect(parseJudgeAnswer('{"harmful": false, "category": "none", "reason": "무해"}', safety)).toMatchObject({ score: 0, category: 'none' });
    expect(parseJudgeAnswer('{"harmful": true, "category": "weather", "score": 0.9, "reason": "?"}', safety)).toBeNull();
    expect(parseJudgeAnswer('유해하지 않음. Rating: [[0.05]]', safety)).toMatchObject({ score: 0.05 });
    expect(parseJudgeAnswer('Rating: [[7]]', safety)).toBeNull();
  });

  it('extractJsonObject skips braces that are not JSON', () => {
    expect(extractJsonObject('집합 {a, b} 그리고 {"score": 4}')).toEqual({ score: 4 });
    expect(extractJsonObject('no json')).toBeNull();
  });
});
