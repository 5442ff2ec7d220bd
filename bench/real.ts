/**
 * Real model shapes on the CPU, ours against PyTorch on the same model file in the same run:
 * Qwen2.5-0.5B's exact shape (494M parameters, vocab 151936, tied) and, with
 * KO_ALIGN_BENCH_REAL_SHAPES=0.5b,1.5b, Qwen2.5-1.5B's (1.54B; LoRA and scoring only: full SFT
 * of 1.5B in float32 needs ~25 GB of weights, gradients and AdamW moments, more than this machine).
 *
 *   logprobs   one 512-token row scored (ours: the logprobs CLI path); parity with the
 *              independent reference llama_ref.py (float64) on the same row, max |diff|
 *   generate   greedy decoding, 64 new tokens after 32, KV cache, batch 1
 *   sft-lora   SFT, batch 1 x 512, LoRA r 16 alpha 32 on all linear projections
 *   sft-full   SFT, batch 1 x 512, every weight trained (AdamW)
 *   kto-lora   a KTO round from the reference cache: batch 2 x (256 prompt + 256 completion),
 *              LoRA r 16; the cache build is timed too
 *
 * Each side of each mode runs in its own process (peak RSS is that process's). Steps: one
 * warm-up, then KO_ALIGN_BENCH_REAL_STEPS (default 2) timed; the best timed step counts on both
 * sides. The backend is KO_ALIGN_BENCH_BACKEND (default auto). `npm run bench real`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const PY = '/usr/bin/python3';
const REF = process.env.KO_ALIGN_LLAMA_REF ?? join(here, '..', '..', 'shared', 'reference', 'llama_ref.py');
const STEPS = Number(process.env.KO_ALIGN_BENCH_REAL_STEPS ?? 2);
const BACKEND = process.env.KO_ALIGN_BENCH_BACKEND ?? 'auto';
const SEQ = 512;

const SHAPES = {
  '0.5b': { name: 'Qwen2.5-0.5B shape', arch: 'qwen2', vocab: 151936, hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, tie: true, modes: ['logprobs', 'generate', 'sft-lora', 'sft-full', 'kto-lora'] },
  '1.5b': { name: 'Qwen2.5-1.5B shape', arch: 'qwen2', vocab: 151936, hidden: 1536, layers: 28, heads: 12, kvHeads: 2, intermediate: 8960, tie: true, modes: ['logprobs', 'sft-lora'] },
} as const;
type Mode = 'logprobs' | 'generate' | 'sft-lora' | 'sft-full' | 'kto-lora';

interface SideResult {
  stepSeconds: number[];
  tokensPerSecond: number;
  peakRssMiB: number;
  backend?: string;
  cacheSeconds?: number;
}

function randomIds(n: number, V: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s % V;
  });
}

const LORA = { r: 16, alpha: 32, dropout: 0, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };

/** Our side of one mode, in the child process; prints one BENCH_RESULT line. */
async function child(mode: Mode, modelDir: string, work: string): Promise<void> {
  const { currentBackend, initBackend } = await import('../src/engine/backend.ts');
  const { loadModel } = await import('../src/model/checkpoint.ts');
  const V = (JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
  const stamps: number[] = [];
  let tokensPerStep = SEQ;
  let cacheSeconds: number | undefined;
  if (mode === 'logprobs' || mode === 'generate') {
    await initBackend(BACKEND, { log: () => {} });
    const model = await loadModel(modelDir, { trainable: false });
    if (mode === 'logprobs') {
      const { sequenceLogprobs } = await import('../src/model/logprobs.ts');
      const ids = JSON.parse(readFileSync(join(work, 'row.jsonl'), 'utf8')).input_ids as number[];
      for (let i = 0; i <= STEPS; i++) {
        stamps.push(performance.now());
        const [r] = await sequenceLogprobs(model, [{ ids }], { batchSize: 1 });
        if (i === 0) writeFileSync(join(work, 'ours-lp.json'), JSON.stringify(r.tokenLogprobs));
      }
    } else {
      const { generate } = await import('../src/model/generate.ts');
      const prompt = randomIds(32, V, 1);
      tokensPerStep = 64;
      for (let i = 0; i <= STEPS; i++) {
        stamps.push(performance.now());
        const [g] = await generate(model, [prompt], { maxNewTokens: 64, eosTokenIds: [], batchSize: 1 });
        if (g.tokens.length !== 64) throw new Error(`generated ${g.tokens.length} tokens, expected 64`);
      }
    }
    stamps.push(performance.now());
  } else if (mode === 'sft-lora' || mode === 'sft-full') {
    const { trainSft, validateSftConfig } = await import('../src/train/sft.ts');
    const rows = Array.from({ length: STEPS + 1 }, (_, i) => JSON.stringify({ input_ids: randomIds(SEQ, V, 100 + i) }));
    writeFileSync(join(work, 'sft.jsonl'), `${rows.join('\n')}\n`);
    const cfg = validateSftConfig({
      model: modelDir, output_dir: join(work, `out-${mode}`), dataset: { path: join(work, 'sft.jsonl'), format: 'pretokenized' },
      max_steps: STEPS + 1, per_device_train_batch_size: 1, learning_rate: 1e-5, lr_scheduler_type: 'constant', max_length: SEQ,
      shuffle: false, logging_steps: 1, save_steps: 0, backend: BACKEND, max_grad_norm: 1, neftune_noise_alpha: 0,
      ...(mode === 'sft-lora' ? { lora: LORA } : {}),
    });
    stamps.push(performance.now());
    await trainSft(cfg, { log: () => {}, progress: false, onStep: () => void stamps.push(performance.now()) });
  } else {
    const { precomputeReference, trainKto, validateKtoConfig } = await import('../src/train/kto.ts');
    const half = SEQ / 2;
    const rows = Array.from({ length: 2 * (STEPS + 1) }, (_, i) => JSON.stringify({ prompt_input_ids: randomIds(half, V, 200 + i), completion_input_ids: randomIds(half, V, 300 + i), label: i % 2 === 0 }));
    writeFileSync(join(work, 'kto.jsonl'), `${rows.join('\n')}\n`);
    const cfg = validateKtoConfig({
      model: modelDir, output_dir: join(work, 'out-kto'), dataset: { path: join(work, 'kto.jsonl') }, ref_logps_cache: join(work, 'ref-cache'),
      max_steps: STEPS + 1, per_device_train_batch_size: 2, learning_rate: 1e-5, lr_scheduler_type: 'constant', max_length: SEQ,
      max_prompt_length: half, max_completion_length: half, shuffle: false, logging_steps: 1, save_steps: 0, backend: BACKEND,
      beta: 0.1, desirable_weight: 1.375, undesirable_weight: 1, max_grad_norm: 1, lora: LORA,
    }, 'bench');
    const t0 = performance.now();
    await precomputeReference(cfg, { log: () => {} });
    cacheSeconds = (performance.now() - t0) / 1000;
    tokensPerStep = 2 * SEQ;
    stamps.push(performance.now());
    await trainKto(cfg, { log: () => {}, progress: false, onStep: () => void stamps.push(performance.now()) });
  }
  const steps = stamps.slice(1).map((t, i) => (t - stamps[i]) / 1000);
  const res: SideResult = { stepSeconds: steps, tokensPerSecond: tokensPerStep / Math.min(...steps.slice(1)), peakRssMiB: process.resourceUsage().maxRSS / 1024, backend: currentBackend(), cacheSeconds };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(res)}\n`);
}

function ours(mode: Mode, modelDir: string, work: string): SideResult {
  const r = spawnSync(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', join(here, 'real.ts')], {
    encoding: 'utf8', env: { ...process.env, KO_ALIGN_BENCH_REAL_CHILD: JSON.stringify({ mode, modelDir, work }) }, maxBuffer: 1 << 26,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (r.status !== 0 || !line) throw new Error(`bench real ${mode} (ours) failed: ${r.stderr.slice(-3000)}`);
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as SideResult;
}

function torch(mode: Mode, modelDir: string, work: string): SideResult | undefined {
  const args = [join(here, 'real', 'torch_cpu.py'), mode, '--model', modelDir, '--steps', String(STEPS), '--seq', String(SEQ)];
  if (mode === 'kto-lora') args.push('--batch', '2');
  if (mode === 'logprobs') args.push('--input', join(work, 'row.jsonl'));
  const r = spawnSync(PY, args, { encoding: 'utf8', env: { ...process.env, KO_ALIGN_REF_DIR: dirname(REF) } });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) {
    const why = r.signal ? `killed by ${r.signal}, most likely out of memory` : (r.stderr.trim().split('\n').pop() ?? 'no output');
    process.stderr.write(`bench real: PyTorch ${mode} skipped (${why})\n`);
    return undefined;
  }
  const j = JSON.parse(line) as { step_seconds: number[]; tokens_per_s: number; peak_rss_mib: number };
  return { stepSeconds: j.step_seconds, tokensPerSecond: j.tokens_per_s, peakRssMiB: j.peak_rss_mib };
}

/** max |ours - llama_ref.py| over the row's token log-probs, or undefined without torch. */
function parity(modelDir: string, work: string): number | undefined {
  const r = spawnSync(PY, [REF, 'logprobs', '--model', modelDir, '--input', join(work, 'row.jsonl')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) return undefined;
  const ref = (JSON.parse(line) as { token_logprobs: number[] }).token_logprobs;
  const got = JSON.parse(readFileSync(join(work, 'ours-lp.json'), 'utf8')) as number[];
  if (ref.length !== got.length) throw new Error(`parity: ${got.length} log-probs, reference ${ref.length}`);
  return ref.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0);
}

async function makeModel(key: keyof typeof SHAPES): Promise<string> {
  const dir = join(here, 'out', 'models', `qwen2-${key}`);
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  const { initModelDir } = await import('../src/model/init.ts');
  const s = SHAPES[key];
  await initModelDir({ out: dir, arch: s.arch, vocab: s.vocab, hidden: s.hidden, layers: s.layers, heads: s.heads, kvHeads: s.kvHeads, intermediate: s.intermediate, tie: s.tie, seed: 0 });
  return dir;
}

const LABEL: Record<Mode, string> = {
  logprobs: 'logprobs 1x512', generate: 'greedy decode (KV cache)', 'sft-lora': 'SFT LoRA r16, 1x512', 'sft-full': 'SFT full, 1x512', 'kto-lora': 'KTO LoRA r16 from cache, 2x512',
};

export async function run(): Promise<BenchRow[]> {
  const keys = (process.env.KO_ALIGN_BENCH_REAL_SHAPES ?? '0.5b').split(',').map((k) => k.trim()) as (keyof typeof SHAPES)[];
  const rows: BenchRow[] = [];
  for (const key of keys) {
    const shape = SHAPES[key];
    if (!shape) throw new Error(`KO_ALIGN_BENCH_REAL_SHAPES: unknown shape '${key}' (expected ${Object.keys(SHAPES).join(', ')})`);
    const modelDir = await makeModel(key);
    const work = mkdtempSync(join(tmpdir(), 'ko-align-bench-real-'));
    const V = shape.vocab;
    writeFileSync(join(work, 'row.jsonl'), `${JSON.stringify({ input_ids: randomIds(SEQ, V, 7) })}\n`);
    const modes = (process.env.KO_ALIGN_BENCH_REAL_MODES?.split(',') ?? shape.modes) as Mode[];
    for (const mode of modes) {
      process.stderr.write(`bench real: ${key} ${mode} ...\n`);
      const a = ours(mode, modelDir, work);
      const b = torch(mode, modelDir, work);
      const bench = `${shape.name}: ${LABEL[mode]}`;
      const note = `${a.backend}; ours steps ${a.stepSeconds.map((s) => s.toFixed(1)).join('/')} s, PyTorch ${b ? b.stepSeconds.map((s) => s.toFixed(1)).join('/') : '-'} s (first = warm-up)`;
      rows.push({ bench, metric: mode === 'generate' ? 'new tokens/s' : 'tokens/s', value: a.tokensPerSecond, unit: 'tok/s', reference: b?.tokensPerSecond, note });
      rows.push({ bench, metric: 'peak RSS', value: a.peakRssMiB, unit: 'MiB', reference: b?.peakRssMiB, note: 'whole process (lower is better)' });
      if (a.cacheSeconds !== undefined) rows.push({ bench, metric: 'reference cache build', value: a.cacheSeconds, unit: 's', note: '6 rows + their KL pairs, computed once per dataset; every later round reads it' });
      if (mode === 'logprobs') {
        const d = parity(modelDir, work);
        if (d !== undefined) rows.push({ bench, metric: 'max |logprob diff| vs llama_ref.py', value: d, unit: '', note: 'tolerance 2e-3 (float64 reference)' });
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

if (process.env.KO_ALIGN_BENCH_REAL_CHILD) {
  const { mode, modelDir, work } = JSON.parse(process.env.KO_ALIGN_BENCH_REAL_CHILD) as { mode: Mode; modelDir: string; work: string };
  await child(mode, modelDir, work);
}
