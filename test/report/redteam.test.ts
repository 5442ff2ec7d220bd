import { describe, expect, it } from 'vitest';
import { MAX_TEXT, redteamChange, redteamHtml, redteamMd, toRedteamAnswers, worstSamples, type RedteamAnswer } from '../../src/report/redteam.ts';

const a = (prompt: string, answer: string, toxicity: number | null, toxic = (toxicity ?? 1) >= 0.5): RedteamAnswer => ({ prompt, answer, toxicity, toxic });

const baseline = [a('p0', '기준 답 0', 0.1), a('p1', '기준 답 1', 0.2), a('p2', '기준 답 2', 0.9), a('p3', '기준 답 3', 0.05)];
const round = [a('p0', '답 0', 0.3), a('p1', '답 1', 0.8), a('p2', '답 2', null), a('p3', '답 3', 0.8)];

describe('worst red-team samples', () => {
  it('orders worst first (unscored answers count as the worst), ties in prompt order, and pairs the baseline answer', () => {
    const s = worstSamples(round, baseline, 3);
    expect(s.map((x) => x.prompt)).toEqual(['p2', 'p1', 'p3']);
    expect(s.map((x) => x.baseline?.answer)).toEqual(['기준 답 2', '기준 답 1', '기준 답 3']);
    expect(worstSamples(round, baseline, 10)).toHaveLength(4);
  });

  it('pairs by prompt text when the baseline lists prompts in another order, and says when there is none', () => {
    const s = worstSamples([a('p3', 'x', 0.9), a('new', 'y', 0.1)], baseline, 2);
    expect(s[0].baseline?.answer).toBe('기준 답 3');
    expect(s[1].baseline).toBeNull();
  });

  it('reads recorded rows, older ones without the scored flag included', () => {
    expect(toRedteamAnswers([{ prompt: 'p', answer: 'a', toxicity: 0.7, toxic: true, scored: true }, { prompt: 'q', answer: 'b', toxicity: null, toxic: true, scored: false }, { prompt: 'r', answer: 'c', toxicity: 0.1, toxic: false }])).toEqual([
      a('p', 'a', 0.7, true),
      a('q', 'b', null, true),
      a('r', 'c', 0.1, false),
    ]);
  });
});

describe('red-team sections', () => {
  const evil = [a('<script>alert(1)</script> 따라 해', '<img src=x onerror=alert(2)> 욕설 | 표\n둘째 줄', 0.93), a('평범한 질문', '', 0.01)];
  const evilBase = [a('<script>alert(1)</script> 따라 해', '</td></table><b>기준</b>', 0.4), a('평범한 질문', '안녕하세요', 0.02)];
  const rounds = [{ round: 0, params: '{"beta":0.1}', verdict: 'reject', answers: evil }];

  it('HTML: every prompt and answer is escaped, with the score and the baseline answer', () => {
    const html = redteamHtml(rounds, evilBase, 5);
    expect(html).not.toMatch(/<(script|img|b)[ >]/);
    expect(html).toContain('&lt;img src=x onerror=alert(2)&gt; 욕설 | 표\n둘째 줄');
    expect(html).toContain('&lt;/td&gt;&lt;/table&gt;&lt;b&gt;기준&lt;/b&gt;');
    expect(html).toContain('<td class="score toxic">0.93 toxic</td>');
    expect(html).toContain('(empty answer)');
    expect(html).toContain('round 0 · {&quot;beta&quot;:0.1} · reject — 2 most toxic of 2 answers');
    // Worst first.
    expect(html.indexOf('0.93 toxic')).toBeLessThan(html.indexOf('>0.01<'));
  });

  it('Markdown: the same table, entity-escaped, one line per row', () => {
    const md = redteamMd(rounds, evilBase, 5);
    expect(md).not.toContain('<script>');
    expect(md).not.toContain('<img');
    const lines = md.trim().split('\n');
    expect(lines[0]).toBe('### round 0 · {"beta":0.1} · reject — 2 most toxic of 2 answers');
    expect(lines[2]).toBe('1 of 2 answers toxic (baseline 0); 1 prompt(s) turned toxic, 0 turned clean');
    expect(lines[4]).toBe('| prompt | round 0 answer | toxicity | baseline answer | baseline toxicity |');
    expect(lines[6]).toBe('| &lt;script&gt;alert(1)&lt;/script&gt; 따라 해 | &lt;img src=x onerror=alert(2)&gt; 욕설 \\| 표 둘째 줄 | 0.93 toxic | &lt;/td&gt;&lt;/table&gt;&lt;b&gt;기준&lt;/b&gt; | 0.4 |');
    expect(lines).toHaveLength(8);
  });

  it('says which prompts turned toxic (all of them, beyond the worst n) and lists every answer with its score', () => {
    const base = [a('q0', 'b0', 0.1), a('q1', 'b1', 0.9), a('q2', 'b2', 0.1), a('q3', 'b3', 0.2), a('q4', 'b4', 0.7)];
    const now = [a('q0', 'x0', 0.6), a('q1', 'x1', 0.95), a('q2', 'x2', 0.8), a('q3', 'x3', 0.1), a('q4', 'x4', 0.3)];
    const c = redteamChange(now, base);
    expect(c).toMatchObject({ toxic: 3, total: 5, baselineToxic: 2, turnedClean: 1 });
    // q1 was toxic already: not "turned"; worst first among the turned
    expect(c.turnedToxic.map((t) => t.prompt)).toEqual(['q2', 'q0']);
    const r = [{ round: 3, params: '{}', verdict: 'reject', answers: now }];
    const html = redteamHtml(r, base, 1);
    expect(html).toContain('3 of 5 answers toxic (baseline 2); 2 prompt(s) turned toxic, 1 turned clean');
    expect(html).toContain('every answer (5), prompt order');
    expect(html.match(/<tr class="answer turned">/g)).toHaveLength(2);
    expect(html.match(/<td class="change">turned clean<\/td>/g)).toHaveLength(1);
    const all = html.slice(html.indexOf('<details>'));
    const at = ['x0', 'x1', 'x2', 'x3', 'x4'].map((x) => all.indexOf(`>${x}<`));
    expect(at.every((p) => p > 0)).toBe(true);
    expect([...at].sort((p, q) => p - q)).toEqual(at); // prompt order
    // Markdown: worst 1 (q1), then the turned-toxic prompts it did not show (q2, q0)
    const md = redteamMd(r, base, 1);
    expect(md).toContain('Also turned toxic:');
    const also = md.slice(md.indexOf('Also turned toxic:'));
    expect(also.indexOf('| q2 |')).toBeGreaterThan(0);
    expect(also.indexOf('| q2 |')).toBeLessThan(also.indexOf('| q0 |'));
    expect(also).not.toContain('| q1 |');
  });

  it('cuts runaway text and says when a round recorded nothing', () => {
    const long = 'ㅋ'.repeat(MAX_TEXT + 50);
    const html = redteamHtml([{ round: 1, params: '{}', verdict: 'pass', answers: [a('p', long, 0.2)] }], [], 5);
    expect(html).toContain(`${'ㅋ'.repeat(MAX_TEXT)}…`);
    expect(html).not.toContain('ㅋ'.repeat(MAX_TEXT + 1));
    expect(html).toContain('(no baseline answer)');
    expect(redteamHtml([{ round: 2, params: '{}', verdict: 'pass', answers: [] }], [], 5)).toContain('(no red-team answers recorded)');
  });
});
