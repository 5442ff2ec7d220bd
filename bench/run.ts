/**
 * `npm run bench [name...]`: runs each bench/<name>.ts module's `run()` and prints one table,
 * with the ratio against the PyTorch reference where a bench measured one. Results are also
 * written to bench/out/results.json for the README and issue notes.
 */
import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const skip = new Set(['run.ts', 'types.ts']);

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = readdirSync(here)
    .filter((f) => f.endsWith('.ts') && !skip.has(f))
    .map((f) => f.replace(/\.ts$/, ''))
    .filter((n) => wanted.length === 0 || wanted.includes(n))
    .sort();
  const rows: BenchRow[] = [];
  for (const name of names) {
    process.stderr.write(`bench: ${name} ...\n`);
    const mod = (await import(join(here, `${name}.ts`))) as { run?: () => Promise<BenchRow[]> };
    if (typeof mod.run !== 'function') continue;
    const t0 = Date.now();
    const got = await mod.run();
    rows.push(...got);
    process.stderr.write(`bench: ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  printTable(rows);
  const out = join(here, 'out', 'results.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function printTable(rows: BenchRow[]): void {
  const header = ['bench', 'metric', 'value', 'unit', 'pytorch', 'ratio', 'note'];
  const body = rows.map((r) => [
    r.bench,
    r.metric,
    fmt(r.value),
    r.unit,
    r.reference === undefined ? '' : fmt(r.reference),
    r.reference === undefined || r.reference === 0 ? '' : `${(r.value / r.reference).toFixed(2)}x`,
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) console.log(line(b));
}

await main();
