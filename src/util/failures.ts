/**
 * Failures that are not the user's input but have a known cause: out of memory (V8, WebAssembly,
 * TensorFlow, WebGPU), a native engine abort, a full disk, a permission problem, too many open
 * files. `explainFailure` turns each into one line saying the cause and the remedy, which the
 * CLI prints instead of `internal error: ...`; anything else stays an internal error.
 */

export interface Explained {
  cause: string;
  remedy: string;
}

/** What lowers peak memory, best first (engine/memory.ts adds --backend native on wasm). */
export const MEMORY_FIXES = [
  'train LoRA adapters (lora:) instead of full weights',
  'a smaller per_device_train_batch_size / --batch-size (with gradient_accumulation_steps to keep the effective batch)',
  'a shorter max_length',
  'gradient_checkpointing: true',
  'a smaller model',
];
const MEMORY_REMEDY = `try ${MEMORY_FIXES.join(', ')}`;

/** Allocation failures of every engine: V8 / ArrayBuffer, the wasm heap, TensorFlow, WebGPU. */
const OUT_OF_MEMORY =
  /out of memory|\bOOM\b|Array buffer allocation failed|allocation failed|could not allocate memory|Cannot allocate memory|Invalid typed array length|Invalid array buffer length|Invalid array length|WebAssembly\.Memory|Cannot enlarge memory|memory access out of bounds|^Aborted\(|Requested texture size|failed to allocate|bad_alloc|ERR_WORKER_OUT_OF_MEMORY/i;

/** Whether an error is an allocation failure (one list for the CLI and the engine). */
export function isOutOfMemory(e: unknown): boolean {
  const err = e as Error | undefined;
  const name = String(err?.name ?? err?.constructor?.name ?? '');
  const msg = e instanceof Error ? e.message : String(e);
  return name === 'GPUOutOfMemoryError' || OUT_OF_MEMORY.test(msg) || (e instanceof RangeError && /allocation/i.test(msg));
}

const RULES: Array<{ test: (msg: string, code: string | undefined, name: string) => boolean; explain: (msg: string, e: NodeJS.ErrnoException) => Explained }> = [
  {
    test: (m, c) => c === 'ENOSPC' || /no space left on device/i.test(m),
    explain: (_m, e) => ({ cause: `no space left on the device${e.path ? ` writing ${e.path}` : ''}`, remedy: 'free disk space or point output_dir / --output at another disk; finished outputs are untouched (writes are atomic)' }),
  },
  {
    test: (m, c) => c === 'EACCES' || c === 'EPERM' || c === 'EROFS',
    explain: (_m, e) => ({ cause: `permission denied${e.path ? ` on ${e.path}` : ''}${e.code === 'EROFS' ? ' (read-only file system)' : ''}`, remedy: 'choose a path you can write, or fix its permissions' }),
  },
  {
    test: (m, c) => c === 'EMFILE' || c === 'ENFILE',
    explain: () => ({ cause: 'too many open files', remedy: "raise the limit (ulimit -n 65536) or lower concurrency" }),
  },
  {
    test: (m, _c, n) => n === 'GPUOutOfMemoryError' || OUT_OF_MEMORY.test(m),
    explain: () => ({ cause: 'out of memory in the tensor engine', remedy: MEMORY_REMEDY }),
  },
  {
    test: (m) => /device (was )?lost|GPUDevice.*lost|DXGI_ERROR_DEVICE|VK_ERROR_DEVICE_LOST/i.test(m),
    explain: () => ({ cause: 'the GPU device was lost (driver reset or out of GPU memory)', remedy: `re-run with --backend wasm or cpu, or ${MEMORY_REMEDY}` }),
  },
  {
    test: (m, _c, n) => n === 'RuntimeError' || /^Aborted\(|\babort\(\)|RuntimeError: (unreachable|abort)|Illegal instruction|SIGILL|AVX/i.test(m),
    explain: () => ({
      cause: 'the native tensor engine aborted (often out of memory, or a CPU without the instructions the prebuilt binary needs)',
      remedy: `re-run with --backend wasm (or cpu) to rule out the native binary, and ${MEMORY_REMEDY}; KO_ALIGN_DEBUG=1 shows the stack`,
    }),
  },
];

/** One cause + remedy for a known failure, or null for a genuine internal error. */
export function explainFailure(e: unknown): Explained | null {
  const err = e as NodeJS.ErrnoException | undefined;
  const msg = String(err?.message ?? e ?? '');
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const name = String(err?.name ?? err?.constructor?.name ?? '');
  for (const r of RULES) if (r.test(msg, code, name)) return r.explain(msg, err ?? ({} as NodeJS.ErrnoException));
  return null;
}

/** The printed line: `<cause>: <remedy> (<first line of the original message>)`. */
export function failureLine(e: unknown): string | null {
  const x = explainFailure(e);
  if (!x) return null;
  const first = String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 160);
  return `${x.cause}; ${x.remedy} (${first})`;
}
