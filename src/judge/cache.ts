/**
 * The durable judge cache: an append-only JSONL file, one finished judgement per line, each
 * batch of lines fsynced before the judgement is reported done (group commit, so hundreds of
 * concurrent requests share one fsync). A crash can only tear the last line; opening the cache
 * drops that fragment (and truncates it away so the next append starts on a clean line).
 *
 * Key: sha256 over (rubric id + version, judge model, request parameters, sample). A job killed
 * at any point and started again finds every judgement that was fsynced and pays only for the rest.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sha256, stableStringify } from '../util/fs.ts';
import { UserError } from '../util/errors.ts';

export interface CacheEntry {
  key: string;
  status: 'ok' | 'failed';
  score?: number;
  reason?: string;
  category?: string;
  /** Raw judge text, kept for failures. */
  raw?: string;
  model: string;
  rubric: string;
  prompt_tokens: number;
  completion_tokens: number;
  /** ISO time the judgement finished. */
  at: string;
}

export interface CacheKeyParts {
  rubricId: string;
  rubricVersion: number;
  model: string;
  params: Record<string, unknown>;
  prompt: string;
  answer: string;
}

export function cacheKey(p: CacheKeyParts): string {
  return sha256(
    stableStringify({
      rubric: `${p.rubricId}@${p.rubricVersion}`,
      model: p.model,
      params: p.params,
      sample: { prompt: p.prompt, answer: p.answer },
    }),
  );
}

export class JudgeCache {
  private entries = new Map<string, CacheEntry>();
  private fh: FileHandle | null = null;
  private queue: Array<{ line: string; resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushing: Promise<void> | null = null;
  private needsNewline = false;
  /** Lines dropped on open because a crash tore them. */
  tornLines = 0;

  private constructor(readonly path: string) {}

  static async open(path: string): Promise<JudgeCache> {
    const c = new JudgeCache(path);
    await mkdir(dirname(path), { recursive: true });
    if (existsSync(path)) c.load();
    c.fh = await open(path, 'a');
    return c;
  }

  private load(): void {
    const buf = readFileSync(this.path);
    let goodEnd = 0;
    let start = 0;
    let lineNo = 0;
    while (start < buf.length) {
      const nl = buf.indexOf(0x0a, start);
      lineNo++;
      const end = nl === -1 ? buf.length : nl;
      const text = buf.subarray(start, end).toString('utf8').trim();
      const isLast = nl === -1 || nl === buf.length - 1;
      if (text) {
        let entry: CacheEntry | null = null;
        try {
          const v = JSON.parse(text);
          if (v && typeof v.key === 'string' && (v.status === 'ok' || v.status === 'failed')) entry = v as CacheEntry;
        } catch {
          entry = null;
        }
        if (!entry) {
          // Only the final line can be torn by a crash; anything else is real corruption.
          if (!isLast) throw new UserError(`${this.path}:${lineNo}: corrupt judge cache line (expected a JSON judgement); delete the cache to rebuild it`);
          this.tornLines++;
          break;
        }
        this.entries.set(entry.key, entry);
      }
      if (nl === -1) {
        // A complete record whose newline never made it to disk: keep it, start the next append on a new line.
        goodEnd = buf.length;
        this.needsNewline = text.length > 0;
        break;
      }
      goodEnd = nl + 1;
      start = nl + 1;
    }
    if (goodEnd < buf.length) {
      const fd = openSync(this.path, 'r+');
      try {
        if (fstatSync(fd).size > goodEnd) ftruncateSync(fd, goodEnd);
      } finally {
        closeSync(fd);
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CacheEntry | undefined {
    return this.entries.get(key);
  }

  /** Appends one judgement; resolves once it is on disk (fsynced). */
  put(entry: CacheEntry): Promise<void> {
    this.entries.set(entry.key, entry);
    return new Promise((resolve, reject) => {
      this.queue.push({ line: JSON.stringify(entry) + '\n', resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0);
        try {
          if (!this.fh) throw new Error(`${this.path}: judge cache is closed`);
          await this.fh.write((this.needsNewline ? '\n' : '') + batch.map((b) => b.line).join(''));
          this.needsNewline = false;
          await this.fh.sync();
          for (const b of batch) b.resolve();
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.fh?.close();
    this.fh = null;
  }
}
