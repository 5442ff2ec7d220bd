/**
 * Builds src/engine/native/kernels.c into a shared library with the system C compiler, once per
 * source version: the output lives in node_modules/.cache/ko-align-native/<hash>/ (or
 * $KO_ALIGN_NATIVE_DIR), keyed by the source, the compiler and the flags, so an edit or another
 * machine rebuilds and an unchanged tree reuses it. Nothing is downloaded. `npm install` runs this
 * (scripts/build-native.mjs); the backend also runs it on first use when the library is missing.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const KERNELS_SOURCE = join(here, 'kernels.c');
const FLAGS = ['-O3', '-march=native', '-fPIC', '-shared', '-fno-math-errno'];

function libName(): string {
  return process.platform === 'darwin' ? 'libkoalign.dylib' : 'libkoalign.so';
}

function compiler(): string {
  return process.env.CC || 'cc';
}

function cacheRoot(): string {
  if (process.env.KO_ALIGN_NATIVE_DIR) return resolve(process.env.KO_ALIGN_NATIVE_DIR);
  return resolve(here, '../../../node_modules/.cache/ko-align-native');
}

/** Where the library for the current source and compiler lives (built or not). */
export function nativeLibraryPath(): string {
  const h = createHash('sha256').update(readFileSync(KERNELS_SOURCE)).update(compiler()).update(FLAGS.join(' ')).update(process.arch).digest('hex').slice(0, 16);
  return join(cacheRoot(), h, libName());
}

/** Why the build failed, as one line for the user. */
export class NativeBuildError extends Error {}

/** Builds the library if it is not there yet; returns its path. Throws NativeBuildError. */
export function buildNative(): string {
  const out = nativeLibraryPath();
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(compiler(), [...FLAGS, '-o', tmp, KERNELS_SOURCE, '-lm', ...(process.platform === 'linux' ? ['-ldl'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new NativeBuildError(`no C compiler ('${compiler()}' not found; install gcc, or set CC)`);
    const first = (err.stderr?.toString() ?? err.message).split('\n').find((l) => /error/i.test(l)) ?? err.message.split('\n')[0];
    throw new NativeBuildError(`building the native kernels failed: ${first.trim()}`);
  }
  renameSync(tmp, out); // atomic: a concurrent build or a killed one never leaves half a library
  return out;
}
