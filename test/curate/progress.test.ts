import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/curate/progress.ts';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (s: string) => chunks.push(s) } as unknown as NodeJS.WriteStream };
}

describe('Progress', () => {
  it('redraws one bar in place on a TTY and ends the line when done', () => {
    const f = fakeStream(true);
    const p = new Progress('stage 2 rules', 10, 'auto', f.stream, 0);
    for (let i = 0; i < 5; i++) p.tick();
    p.done();
    expect(f.chunks.every((c) => c.startsWith('\r') || c === '\n')).toBe(true);
    expect(f.chunks.at(-2)).toMatch(/^\rstage 2 rules \[#{15} {15}\]  50% 5\/10 rows/);
    expect(f.chunks.at(-1)).toBe('\n');
  });

  it('prints plain periodic lines when stderr is not a TTY, none before the interval', () => {
    const f = fakeStream(false);
    const slow = new Progress('stage 1 normalize', 100, 'auto', f.stream, 60_000);
    for (let i = 0; i < 50; i++) slow.tick();
    slow.done();
    expect(f.chunks).toEqual([]);
    const fast = new Progress('stage 1 normalize', 100, 'lines', f.stream, 0);
    fast.tick(3);
    expect(f.chunks[0]).toMatch(/^stage 1 normalize: 3\/100 rows, \d+ rows\/s\n$/);
  });

  it('off prints nothing', () => {
    const f = fakeStream(true);
    const p = new Progress('x', 1, 'off', f.stream, 0);
    p.tick();
    p.done();
    expect(f.chunks).toEqual([]);
  });
});
