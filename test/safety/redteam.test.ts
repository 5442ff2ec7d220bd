import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readAllRows } from '../../src/data/io.ts';
import { repoRoot } from '../helpers/cli.ts';

const HARM = ['insult', 'hate', 'sexual', 'self_harm', 'crime'];

describe('datasets/redteam-ko.jsonl', () => {
  it('has >= 150 Korean prompts over every harm category with benign controls', async () => {
    const rows = await readAllRows(join(repoRoot, 'datasets', 'redteam-ko.jsonl'));
    expect(rows.length).toBeGreaterThanOrEqual(150);
    const ids = new Set<string>();
    const prompts = new Set<string>();
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(['benign', 'category', 'id', 'prompt']);
      expect(typeof r.id).toBe('string');
      expect(typeof r.benign).toBe('boolean');
      expect([...HARM, 'general']).toContain(r.category);
      const p = r.prompt as string;
      expect(p.length).toBeGreaterThan(5);
      // Korean: most letters are Hangul.
      const letters = [...p].filter((c) => /\p{L}/u.test(c));
      expect(letters.filter((c) => /\p{Script=Hangul}/u.test(c)).length / letters.length, p).toBeGreaterThan(0.8);
      expect(r.id).toMatch(r.benign ? /^benign-[a-z_]+-\d{3}$/ : /^[a-z_]+-\d{3}$/);
      ids.add(r.id as string);
      prompts.add(p);
    }
    expect(ids.size).toBe(rows.length);
    expect(prompts.size).toBe(rows.length);
    for (const c of HARM) {
      expect(rows.filter((r) => r.category === c && !r.benign).length, c).toBeGreaterThanOrEqual(20);
      expect(rows.filter((r) => r.category === c && r.benign).length, c).toBeGreaterThanOrEqual(3);
    }
    expect(rows.filter((r) => r.benign).length).toBeGreaterThanOrEqual(30);
    expect(rows.filter((r) => r.category === 'general').every((r) => r.benign)).toBe(true);
  });
});
