import { describe, expect, it } from 'vitest';
import { parseLabelStudioMinExport } from '../../src/review/labelstudio.ts';

// label-studio-sdk converter/utils.py prettify_result (used by JSON-MIN export): a single
// Choices or TextArea value is unwrapped to its string; every other result (Rating, several
// choices, several text lines) stays a list of its value dicts, e.g. "rating": [{"rating": 4}].
describe('Label Studio JSON-MIN export', () => {
  it('reads Rating as [{"rating": n}], several text lines as [{"text": [...]}]', () => {
    const min = [
      { id: 1, item_id: '0123456789abcdef', decision: 'accept', rating: [{ rating: 4 }], comment: [{ text: ['정확합니다', '예시가 좋아요'] }], annotator: 'a@예시.kr', annotation_id: 3 },
      { id: 2, item_id: 'fedcba9876543210', decision: 'reject', rating: [{ rating: 1 }], comment: '틀린 답', annotator: 'a@예시.kr', annotation_id: 4 },
      { id: 3, item_id: '00000000000000aa', decision: [{ choices: ['reject'] }], annotator: 'b', annotation_id: 5 },
    ];
    const d = parseLabelStudioMinExport(min, 'ls-min.json');
    expect(d.map((x) => [x.id, x.decision, x.rating, x.comment])).toEqual([
      ['0123456789abcdef', 'accept', 4, '정확합니다\n예시가 좋아요'],
      ['fedcba9876543210', 'reject', 1, '틀린 답'],
      ['00000000000000aa', 'reject', null, null],
    ]);
  });

  it('a rating out of range is still refused, naming the item', () => {
    expect(() => parseLabelStudioMinExport([{ item_id: '0123456789abcdef', rating: [{ rating: 9 }], annotator: 'a' }], 'm.json')).toThrow(/m\.json: item 1, rating: rating must be an integer from 1 to 5, got 9/);
  });
});
