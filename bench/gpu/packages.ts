/**
 * The npm packages the GPU bench needs on the device machine (bench/gpu/packages.txt), and a
 * check that they cover what bench/gpu/bench.ts really imports: esbuild walks the static import
 * graph of the entry (src/ included) and every package it reaches must be in the list, so a new
 * dependency of the trainers cannot silently go missing from the carry.
 *
 *   node --import tsx bench/gpu/packages.ts --check     (pack.sh runs this; exit 1 on a gap)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..');
export const PACKAGE_LIST = join(here, 'packages.txt');
export const BENCH_ENTRY = join(here, 'bench.ts');

/** Optional backends that are loaded by a computed import only when installed; never carried. */
export const NOT_CARRIED = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/** Package names in packages.txt (comments and blank lines dropped). */
export function readPackageList(path = PACKAGE_LIST): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** Listed packages that are missing from node_modules/ (each needs node_modules/<name>/package.json). */
export function missingPackages(list: string[], root = REPO_ROOT): string[] {
  return list.filter((p) => !existsSync(join(root, 'node_modules', p, 'package.json')));
}

/** Top-level packages reached by the static import graph of `entry` (nested node_modules count as their parent). */
export async function importClosure(entry = BENCH_ENTRY): Promise<string[]> {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent',
    external: NOT_CARRIED,
  });
  const pkgs = new Set<string>();
  for (const f of Object.keys(r.metafile!.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    if (m) pkgs.add(m[1]);
  }
  return [...pkgs].sort();
}

/** Packages the bench imports that packages.txt lacks. */
export async function uncoveredImports(list = readPackageList(), entry = BENCH_ENTRY): Promise<string[]> {
  const have = new Set(list);
  return (await importClosure(entry)).filter((p) => !have.has(p));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--check')) {
  const list = readPackageList();
  const missing = missingPackages(list);
  const gaps = await uncoveredImports(list);
  if (missing.length) process.stderr.write(`packages.txt names packages not in node_modules/: ${missing.join(', ')}\n`);
  if (gaps.length) process.stderr.write(`bench/gpu/bench.ts imports packages missing from packages.txt: ${gaps.join(', ')}\n`);
  if (!missing.length && !gaps.length) process.stdout.write(`packages.txt: ${list.length} packages, covering the bench's import closure\n`);
  process.exitCode = missing.length || gaps.length ? 1 : 0;
}
