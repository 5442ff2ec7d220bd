import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, extname, join } from 'node:path';
import { UserError } from './errors.ts';

/** A temp path beside `path` (same filesystem, so rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether process `pid` is alive on this machine (EPERM: alive, owned by someone else). */
function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files and directories of our own pattern for `path` (`.<name>.<pid>.<hex>.tmp`,
 * and the `.spill` / `.old` files beside them) left by a process that no longer runs, e.g. one
 * killed with SIGKILL mid-write. Temps of live processes (a concurrent writer) are left alone.
 */
export async function cleanStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(path);
  const re = new RegExp(`^\\.${escapeRe(basename(path))}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp(\\.spill|\\.old)?$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = re.exec(n);
    if (!m || pidAlive(Number(m[1]))) continue;
    await rm(join(dir, n), { recursive: true, force: true });
    removed.push(join(dir, n));
  }
  return removed;
}

/** A one-line UserError when an output file path names an existing directory. */
export function refuseDirectoryOutput(path: string): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    return;
  }
  if (isDir) throw new UserError(`${path}: is a directory, expected an output file path (e.g. ${join(path, `out${extname(path) || '.jsonl'}`)})`);
}

/**
 * Writes a whole file atomically: data goes to a temp file beside it, is fsynced, then renamed
 * over the target. A crash leaves either the old file or the new one, never half of one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  refuseDirectoryOutput(path);
  await mkdir(dirname(path), { recursive: true });
  await cleanStaleTemps(path);
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

/** Synchronous variant for small files written from sync code paths. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  refuseDirectoryOutput(path);
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Runs `produce(tmpPath)` and renames the result onto `path` only if it succeeds; on failure
 * the temp file is removed, so no half-written output is ever left at `path`.
 */
export async function withAtomicOutput<T>(path: string, produce: (tmpPath: string) => Promise<T>): Promise<T> {
  refuseDirectoryOutput(path);
  await mkdir(dirname(path), { recursive: true });
  await cleanStaleTemps(path);
  const tmp = tempPathFor(path);
  try {
    const result = await produce(tmp);
    await rename(tmp, path);
    return result;
  } catch (e) {
    await rm(tmp, { force: true, recursive: true });
    throw e;
  }
}

/** Fails with a one-line UserError when `path` does not exist. */
export async function requireFile(path: string, what = 'file'): Promise<void> {
  try {
    await stat(path);
  } catch {
    throw new UserError(`${path}: ${what} not found`);
  }
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Stable JSON (sorted keys) for hashing configs and rows. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
