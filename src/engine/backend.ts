/**
 * Tensor engine set-up: picks and initialises one tfjs backend.
 *
 *   tensorflow  @tensorflow/tfjs-node-gpu (CUDA), then @tensorflow/tfjs-node (optional deps)
 *   webgpu      @tensorflow/tfjs-backend-webgpu on Dawn (the `webgpu` npm package, Vulkan)
 *   native      tfjs-backend-cpu storage (RAM-bound, no 4 GiB heap) with C kernels and the system
 *               BLAS (src/engine/native/): the fast CPU path, where a C compiler and OpenBLAS exist
 *   wasm        @tensorflow/tfjs-backend-wasm, SIMD, one thread, 4 GiB heap (portable CPU path)
 *   cpu         @tensorflow/tfjs-backend-cpu, pure JS (last resort, ~40x slower than wasm)
 *
 * `auto` tries them in that order and keeps the first that loads. An explicitly named backend
 * that cannot load is a UserError that says why; there is no silent fallback for it.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; this module does (see its comment).
import './tfjs.ts';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.ts';

export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'native' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'];

/** The order `auto` tries: GPUs, then the native CPU path, then the portable ones. */
export const AUTO_ORDER: readonly Exclude<BackendName, 'auto'>[] = ['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'];

const require = createRequire(import.meta.url);

/** Why a backend could not be loaded (the message is one line, for the user). */
export class BackendUnavailable extends Error {}

type Loader = () => Promise<string>;

let announced: string | undefined;
/** The last line each caller's log got: a pipeline passing one log to every stage sees it once. */
const announcedTo = new WeakMap<(line: string) => void, string>();

/** The tfjs backend name currently active (after initBackend). */
export function currentBackend(): string {
  return tf.getBackend();
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new BackendUnavailable(`tfjs could not initialise the '${name}' backend`);
  await tf.ready();
}

async function loadTensorflow(): Promise<string> {
  const tried: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      tried.push(/Cannot find (package|module)/.test(msg) ? `${pkg} is not installed` : `${pkg} failed to load (${msg})`);
      continue;
    }
    await activate('tensorflow');
    return 'tensorflow';
  }
  throw new BackendUnavailable(`${tried.join('; ')} (install it with npm; see README "GPU")`);
}

/** Paths where a Vulkan loader is usually found on Linux. */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/local/lib',
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/**
 * Sets the globals tfjs-backend-webgpu expects (navigator.gpu, GPU* classes) from Dawn, asks for
 * an adapter, then registers the backend. Fails with one line when there is no adapter.
 */
async function loadWebgpu(): Promise<string> {
  let webgpu: { create: (opts: string[]) => { requestAdapter(o?: object): Promise<unknown> }; globals: Record<string, unknown> };
  try {
    webgpu = (await import('webgpu')) as unknown as typeof webgpu;
  } catch (e) {
    throw new BackendUnavailable(`the 'webgpu' package (Dawn) is not installed or failed to load (${(e as Error).message.split('\n')[0]})`);
  }
  if (!vulkanLoaderPresent()) {
    throw new BackendUnavailable('no WebGPU adapter: no Vulkan loader (libvulkan.so.1) on this machine (install libvulkan1 and a GPU driver)');
  }
  for (const [k, v] of Object.entries(webgpu.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const gpu = webgpu.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new BackendUnavailable('no WebGPU adapter: Dawn found no usable GPU (is a GPU driver with Vulkan support installed?)');
  }
  const nav = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (nav === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (!nav.gpu) {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  }
  await import('@tensorflow/tfjs-backend-webgpu'); // registers 'webgpu' now that navigator.gpu exists
  await activate('webgpu');
  return 'webgpu';
}

/** Directory holding the tfjs-backend-wasm .wasm binaries, with a trailing slash. */
export function wasmDir(): string {
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

async function loadWasm(): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dir = wasmDir();
  if (!existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm'))) {
    throw new BackendUnavailable(`the wasm binaries are missing from ${dir}`);
  }
  // One thread in Node: the threaded build needs Web Workers.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setWasmPaths(dir);
  await activate('wasm');
  return 'wasm';
}

async function loadNative(): Promise<string> {
  const { registerNativeBackend } = await import('./native/backend.ts');
  let lib;
  try {
    lib = registerNativeBackend();
  } catch (e) {
    throw new BackendUnavailable((e as Error).message.split('\n')[0]);
  }
  await activate('native');
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  nativeDetail = `${lib.threads} BLAS threads, ${lib.blasPath}`;
  return 'native';
}

/** What the native backend loaded (shown in the backend line). */
let nativeDetail = '';

async function loadCpu(): Promise<string> {
  await import('@tensorflow/tfjs-backend-cpu');
  await activate('cpu');
  // The cpu backend prints a multi-line "install tfjs-node" banner on first use; we already say
  // which backend runs, so mark it as shown.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return 'cpu';
}

const LOADERS: Record<Exclude<BackendName, 'auto'>, Loader> = {
  tensorflow: loadTensorflow,
  webgpu: loadWebgpu,
  native: loadNative,
  wasm: loadWasm,
  cpu: loadCpu,
};

export interface InitBackendOptions {
  /** Where the one "backend: X" line goes (default: stderr, once per process). */
  log?: (line: string) => void;
  /** Loaders to use instead of the real ones (for tests of the choice logic). */
  loaders?: Partial<Record<Exclude<BackendName, 'auto'>, Loader>>;
}

/**
 * Chooses and initialises a backend. Returns the name of the backend in use.
 * `auto`: first of tensorflow, webgpu, wasm, cpu that loads; the reasons the others were
 * skipped are listed in the log line. An explicit name that cannot load throws a UserError.
 */
export async function initBackend(name: BackendName | string = 'auto', opts: InitBackendOptions = {}): Promise<string> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new UserError(`unknown backend '${name}' (expected one of: ${BACKEND_NAMES.join(', ')})`);
  }
  const loaders = { ...LOADERS, ...opts.loaders };
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let chosen: string;
  const skipped: string[] = [];
  if (name === 'auto') {
    chosen = '';
    for (const cand of AUTO_ORDER) {
      try {
        chosen = await loaders[cand]();
        break;
      } catch (e) {
        skipped.push(`${cand}: ${(e as Error).message}`);
      }
    }
    if (!chosen) throw new UserError(`no tensor backend could be loaded (${skipped.join('; ')})`);
  } else {
    try {
      chosen = await loaders[name as Exclude<BackendName, 'auto'>]();
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`backend '${name}' is not available: ${(e as Error).message}`);
    }
  }
  const line = `backend: ${chosen}${chosen === 'native' && nativeDetail ? ` (${nativeDetail})` : ''}`;
  if (opts.log ? announcedTo.get(opts.log) !== line : announced !== line) {
    // When the fast CPU path is missing, say once what to install (its reason names it).
    const nativeWhy = skipped.find((s) => s.startsWith('native:'));
    const hint = nativeWhy && (chosen === 'wasm' || chosen === 'cpu') ? `; for the faster native CPU backend: ${nativeWhy.slice('native: '.length)}` : '';
    log(skipped.length > 0 && name === 'auto' ? `${line} (auto; skipped ${skipped.map((s) => s.split(':')[0]).join(', ')}${hint})` : line);
    if (opts.log) announcedTo.set(opts.log, line);
    else announced = line;
  }
  return chosen;
}
