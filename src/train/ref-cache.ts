/**
 * The KTO reference log-prob cache. The reference model's summed completion log-probs for every
 * (prompt, completion) row and every KL pair are computed once and stored under a key that
 * hashes everything they depend on: the reference weights, the tokenizer and chat template, the
 * length limits, the batch size (it fixes the KL pairs) and the tokenized dataset rows. Every
 * later round (another beta, learning rate, loss weights) reads the cache and never loads the
 * reference model. A stale key misses; a corrupt or truncated file fails its checksum and is
 * rebuilt, never used.
 *
 * Layout: <cache_dir>/<key>/ref_logps.arrow (columns row, ref_logp, ref_kl_logp) and
 * manifest.json ({ key, rows, sha256 of the arrow file, parts }). Written into a temp folder and
 * renamed, so a crash leaves no half-written cache.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Float64, Int32, Table, makeTable, tableFromIPC, tableToIPC } from 'apache-arrow';
import { UserError } from '../util/errors.ts';
import { sha256, stableStringify, tempPathFor } from '../util/fs.ts';

export interface RefCacheParts {
  /** sha256 over the reference model's config.json and weight files. */
  referenceWeights: string;
  /** Tokenizer hash (tokenizer.json + chat template). */
  tokenizer: string;
  maxLength: number;
  /** null: not set (current TRL truncation). */
  maxPromptLength: number | null;
  maxCompletionLength: number | null;
  /** per_device_train_batch_size: it decides the KL pairs. */
  batchSize: number;
  lossType: string;
  /** sha256 of the tokenized rows and their KL pairing. */
  rows: string;
}

export interface RefLogps {
  /** Reference log p(completion_i | prompt_i), one per row. */
  logps: Float64Array;
  /** Reference log p(completion_kl(i) | prompt_i), one per row (NaN when there is no KL term). */
  klLogps: Float64Array;
}

export type RefCacheLookup =
  | { status: 'hit'; data: RefLogps; dir: string }
  | { status: 'miss' | 'corrupt'; reason: string; dir: string };

export function refCacheKey(parts: RefCacheParts): string {
  return sha256(stableStringify({ v: 1, ...parts })).slice(0, 32);
}

/** Hash of the tokenized rows and KL pairing, the dataset part of the key. */
export function hashTokenizedRows(rows: { prompt_ids: number[]; completion_ids: number[] }[], klIndex: number[]): string {
  const h = createHash('sha256');
  rows.forEach((r, i) => {
    h.update(JSON.stringify([r.prompt_ids, r.completion_ids, klIndex[i] ?? -1]));
    h.update('\n');
  });
  return h.digest('hex');
}

/** sha256 over config.json and every *.safetensors file of a model directory (sorted by name). */
export async function hashModelWeights(dir: string): Promise<string> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n === 'config.json' || n.endsWith('.safetensors')).sort();
  } catch {
    throw new UserError(`${dir}: reference model directory not found`);
  }
  if (!names.some((n) => n.endsWith('.safetensors'))) throw new UserError(`${dir}: no *.safetensors weights found for the reference model`);
  const h = createHash('sha256');
  for (const n of names) {
    h.update(`${n}\n`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(join(dir, n))
        .on('data', (c) => h.update(c))
        .on('end', resolve)
        .on('error', reject);
    });
  }
  return h.digest('hex');
}

export async function lookupRefCache(cacheDir: string, key: string, expectedRows: number): Promise<RefCacheLookup> {
  const dir = join(cacheDir, key);
  let manifest: { key?: string; rows?: number; sha256?: string };
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    return { status: missing ? 'miss' : 'corrupt', reason: missing ? 'no cache for this key' : 'manifest.json unreadable', dir };
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, 'ref_logps.arrow'));
  } catch {
    return { status: 'corrupt', reason: 'ref_logps.arrow missing', dir };
  }
  if (manifest.key !== key) return { status: 'corrupt', reason: `manifest key ${manifest.key} != ${key}`, dir };
  if (sha256(bytes) !== manifest.sha256) return { status: 'corrupt', reason: 'checksum mismatch (file changed or truncated)', dir };
  if (manifest.rows !== expectedRows) return { status: 'corrupt', reason: `cache has ${manifest.rows} rows, dataset has ${expectedRows}`, dir };
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    return { status: 'corrupt', reason: `unreadable Arrow file: ${(e as Error).message}`, dir };
  }
  if (table.numRows !== expectedRows) return { status: 'corrupt', reason: `Arrow file has ${table.numRows} rows`, dir };
  const rowCol = table.getChild('row');
  const lp = table.getChild('ref_logp');
  const kl = table.getChild('ref_kl_logp');
  if (!rowCol || !lp || !kl) return { status: 'corrupt', reason: 'missing columns', dir };
  const logps = new Float64Array(expectedRows);
  const klLogps = new Float64Array(expectedRows);
  for (let i = 0; i < expectedRows; i++) {
    if (rowCol.get(i) !== i) return { status: 'corrupt', reason: `row order broken at ${i}`, dir };
    logps[i] = lp.get(i) as number;
    klLogps[i] = kl.get(i) as number;
  }
  return { status: 'hit', data: { logps, klLogps }, dir };
}

export async function writeRefCache(cacheDir: string, key: string, parts: RefCacheParts, data: RefLogps): Promise<string> {
  const n = data.logps.length;
  const table = makeTable({
    row: Int32Array.from({ length: n }, (_, i) => i),
    ref_logp: data.logps,
    ref_kl_logp: data.klLogps,
  });
  // makeTable infers Int32 / Float64 from the typed arrays; assert so a change in arrow is caught.
  if (!(table.schema.fields[0].type instanceof Int32) || !(table.schema.fields[1].type instanceof Float64)) {
    throw new Error('ref cache: unexpected Arrow column types');
  }
  const bytes = tableToIPC(table, 'file');
  await mkdir(cacheDir, { recursive: true });
  const dir = join(cacheDir, key);
  const tmp = tempPathFor(dir);
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'ref_logps.arrow'), bytes);
  const manifest = { key, rows: n, sha256: sha256(bytes), created: new Date().toISOString(), parts };
  await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

interface RefIdentity {
  size: number;
  mtimeMs: number;
  hash: string;
}

/**
 * The reference weights' hash for the cache key. Hashing a large checkpoint costs seconds, so
 * the hash is remembered in <cache_dir>/references.json by (absolute path, size, mtime). When the
 * reference directory no longer exists, the remembered hash is used: a cached round needs
 * neither the reference model's tensors nor its files.
 */
export async function resolveReferenceHash(cacheDir: string, refDir: string): Promise<string> {
  const indexPath = join(cacheDir, 'references.json');
  let index: Record<string, RefIdentity> = {};
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch {
    index = {};
  }
  const abs = resolve(refDir);
  let names: string[];
  try {
    names = (await readdir(abs)).filter((n) => n === 'config.json' || n.endsWith('.safetensors')).sort();
  } catch {
    const known = index[abs];
    if (known) return known.hash;
    throw new UserError(`${refDir}: reference model directory not found (and no cached log-probs were ever built from it)`);
  }
  let size = 0;
  let mtimeMs = 0;
  for (const n of names) {
    const st = await stat(join(abs, n));
    size += st.size;
    mtimeMs = Math.max(mtimeMs, st.mtimeMs);
  }
  const known = index[abs];
  if (known && known.size === size && known.mtimeMs === mtimeMs) return known.hash;
  const hash = await hashModelWeights(abs);
  index[abs] = { size, mtimeMs, hash };
  await mkdir(cacheDir, { recursive: true });
  const tmp = tempPathFor(indexPath);
  await writeFile(tmp, JSON.stringify(index, null, 2));
  await rename(tmp, indexPath);
  return hash;
}
