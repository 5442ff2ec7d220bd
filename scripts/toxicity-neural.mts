/**
 * Issue 16, the "small neural classifier trained with the project's own engine" data point: a tiny
 * Llama-style decoder (src/model/llama.ts, random init from src/model/init.ts) with a
 * classification head, trained on the toxicity train split with the native CPU backend
 * (C kernels + OpenBLAS) and AdamW (src/train/optim.ts); measured per source on the calibration
 * split (selection, early stopping) and the test split (report), then stacked with the committed
 * linear model. Not part of the build or the tests; docs/toxicity.md has the numbers.
 *
 *   node --import tsx scripts/toxicity-neural.mts                        # hidden 128, 2 layers, 4 heads, BPE 4000
 *   node --import tsx scripts/toxicity-neural.mts --lr 5e-4 --wd 0.1 --epochs 3 --evals-per-epoch 3
 *   node --import tsx scripts/toxicity-neural.mts --hidden 64 --inter 128 --lr 2e-3   # the best of those tried
 *   node --import tsx scripts/toxicity-neural.mts --tokens char          # characters instead of BPE
 *   node --import tsx scripts/toxicity-neural.mts --limit 2000 --epochs 1 # smoke run
 *
 * Tokens: a byte-level BPE (src/model/tokenizer-builder.ts) trained on the train split's texts
 * (NFC), or characters (--tokens char), truncated to --max-len. Head: the model's lm_head is replaced by a [1, hidden] matrix, so
 * `forward` gives a per-token score w . h_t of the final (RMS-normed) hidden states; their mean
 * over the real tokens plus a bias is the logit: exactly mean-pool -> linear -> logit, since the
 * head is linear. Loss: binary cross-entropy. The decoder is causal (a tiny decoder, not an
 * encoder): the mean pools causal prefixes. Columns: beep curse-detection kodoli kosbi-valid pooled.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.ts';
import { LlamaModel } from '../src/model/llama.ts';
import { randomModelTensors } from '../src/model/init.ts';
import { buildTokenizer } from '../src/model/tokenizer-builder.ts';
import { loadTokenizer } from '../src/model/tokenizer.ts';
import { AdamW, clipGradNorm, decaysByDefault, type OptimParam } from '../src/train/optim.ts';
import { loadSources } from '../src/safety/train-sources.ts';
import { loadClassifier, defaultModelDir } from '../src/safety/classifier.ts';
import { auroc } from '../src/safety/metrics.ts';
import { applyStacker, fitStacker } from '../src/safety/ensemble.ts';
import { mulberry32 } from '../src/util/random.ts';

const { values: a } = parseArgs({
  options: {
    hidden: { type: 'string', default: '128' },
    layers: { type: 'string', default: '2' },
    heads: { type: 'string', default: '4' },
    inter: { type: 'string', default: '256' },
    vocab: { type: 'string', default: '4000' },
    'max-len': { type: 'string', default: '64' },
    epochs: { type: 'string', default: '4' },
    batch: { type: 'string', default: '64' },
    lr: { type: 'string', default: '1e-3' },
    wd: { type: 'string', default: '0.01' },
    warmup: { type: 'string', default: '200' },
    'evals-per-epoch': { type: 'string', default: '2' },
    patience: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    limit: { type: 'string', default: '0' },
    'max-train-s': { type: 'string', default: '540' },
    'save-logits': { type: 'string' },
    tokens: { type: 'string', default: 'bpe' },
  },
});
const num = (k: keyof typeof a) => Number(a[k]);
const H = num('hidden'), L = num('layers'), NH = num('heads'), I = num('inter'), V = num('vocab'), T = num('max-len');
const EPOCHS = num('epochs'), B = num('batch'), LR = num('lr'), WD = num('wd'), WARM = num('warmup'), SEED = num('seed');
const EVALS = num('evals-per-epoch'), PATIENCE = num('patience'), LIMIT = num('limit'), MAX_TRAIN_S = num('max-train-s');

const t0 = performance.now();
const lap = (s: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}`);
const backend = await initBackend('native');
const D = new URL('../../shared/data', import.meta.url).pathname;
const { rows } = await loadSources([`${D}/korean-hate-speech`, `${D}/toxicity-ko`]);
const SRC = ['beep', 'curse-detection', 'kodoli', 'kosbi-valid'];
const idx = (s: string) => rows.map((r, i) => (r.split === s ? i : -1)).filter((i) => i >= 0);
let tr = idx('train');
const ca = idx('calib'), te = idx('test');
if (LIMIT > 0) {
  const r = mulberry32(5);
  tr = tr.map((i) => [i, r()] as const).sort((x, y) => x[1] - y[1]).slice(0, LIMIT).map((x) => x[0]).sort((x, y) => x - y);
}
const y = rows.map((r) => (r.toxic ? 1 : 0));

function perSource(scores: ArrayLike<number>, ids: number[]): string {
  return aurocs(scores, ids).map((v) => v.toFixed(4)).join(' ');
}
function aurocs(scores: ArrayLike<number>, ids: number[]): number[] {
  return [...SRC, 'all'].map((s) => {
    const ss: number[] = [], yy: boolean[] = [];
    ids.forEach((i, k) => { if (s === 'all' || rows[i]!.source === s) { ss.push(scores[k]!); yy.push(rows[i]!.toxic); } });
    return auroc(ss, yy);
  });
}

// ---- tokens: byte-level BPE trained on the train split, or characters ------------------------
const norm = (s: string) => s.normalize('NFC');
let encode: (text: string) => Int32Array;
let vocab: number, padId: number;
if (a.tokens === 'char') {
  // characters seen at least twice in the train texts (NFC, lower case); others -> 1 (unknown); 0 pads
  const counts = new Map<string, number>();
  for (const i of tr) for (const ch of norm(rows[i]!.text).toLowerCase()) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const chars = [...counts].filter(([, c]) => c >= 2).map(([ch]) => ch).sort();
  const id = new Map(chars.map((ch, k) => [ch, k + 2]));
  vocab = chars.length + 2; padId = 0;
  encode = (text) => { const ids = [...norm(text).toLowerCase()].slice(0, T).map((ch) => id.get(ch) ?? 1); return Int32Array.from(ids.length ? ids : [1]); };
  lap(`characters: ${vocab} ids (${chars.length} characters seen twice in ${tr.length} train texts)`);
} else {
  const tokDir = mkdtempSync(join(tmpdir(), 'ko-align-tox-nn-'));
  const built = await buildTokenizer({ vocabSize: V, corpus: tr.map((i) => norm(rows[i]!.text)), outDir: tokDir });
  const tok = await loadTokenizer(tokDir);
  rmSync(tokDir, { recursive: true, force: true });
  lap(`tokenizer: ${built.vocabSize} ids (${built.merges} merges) on ${tr.length} train texts`);
  vocab = tok.vocabSize; padId = tok.padTokenId;
  encode = (text) => {
    const ids = tok.encode(norm(text), { addSpecialTokens: false }).slice(0, T);
    return Int32Array.from(ids.length ? ids : [tok.eosTokenId]);
  };
}
const toks: (Int32Array | undefined)[] = new Array(rows.length);
for (const i of [...tr, ...ca, ...te]) toks[i] = encode(rows[i]!.text);
const lens = tr.map((i) => toks[i]!.length).sort((x, y) => x - y);
lap(`tokenized; train tokens per row: median ${lens[lens.length >> 1]}, p90 ${lens[Math.floor(lens.length * 0.9)]}, mean ${(lens.reduce((s, v) => s + v, 0) / lens.length).toFixed(1)}, truncated at ${T}: ${lens.filter((l) => l >= T).length}`);

// ---- model: tiny Llama, lm_head replaced by a [1, H] classification head ---------------------
const { config, tensors } = randomModelTensors({ arch: 'llama', vocab, hidden: H, layers: L, heads: NH, kvHeads: NH, intermediate: I, maxPositionEmbeddings: 2 * T }, SEED);
const params = new Map<string, tf.Variable>();
for (const [name, t] of tensors) {
  if (name === 'lm_head.weight') continue;
  params.set(name, tf.variable(tf.tensor(t.data, t.shape, 'float32'), true, `${name}/${SEED}`));
}
const hr = mulberry32(SEED * 7 + 3);
params.set('lm_head.weight', tf.variable(tf.tensor2d(Float32Array.from({ length: H }, () => (hr() * 2 - 1) * 0.02), [1, H]), true, `head/${SEED}`));
const headBias = tf.variable(tf.scalar(0), true, `head.bias/${SEED}`);
const model = new LlamaModel(config, params);
const optParams: OptimParam[] = [...params].map(([name, v]) => ({ name, variable: v, lr: LR, weightDecay: decaysByDefault(name) ? WD : 0 }));
optParams.push({ name: 'head.bias', variable: headBias, lr: LR, weightDecay: 0 });
const nParams = optParams.reduce((s, p) => s + p.variable.size, 0);
lap(`model: hidden ${H}, ${L} layers, ${NH} heads, intermediate ${I}, vocab ${vocab}: ${nParams} parameters; backend ${backend}`);

/** Right-padded ids [n, Tb] and mask [n, Tb] for rows `ids`. */
function batchTensors(ids: number[]): { x: tf.Tensor2D; m: tf.Tensor2D } {
  const Tb = Math.max(...ids.map((i) => toks[i]!.length));
  const x = new Int32Array(ids.length * Tb).fill(padId), m = new Float32Array(ids.length * Tb);
  ids.forEach((i, r) => { const t = toks[i]!; x.set(t, r * Tb); m.fill(1, r * Tb, r * Tb + t.length); });
  return { x: tf.tensor2d(x, [ids.length, Tb], 'int32'), m: tf.tensor2d(m, [ids.length, Tb]) };
}
/** Logits [n]: mean over real tokens of the per-token head score, plus the bias. */
function logitOf(x: tf.Tensor2D, m: tf.Tensor2D): tf.Tensor1D {
  const s = tf.reshape(model.forward(x, { attentionMask: m }), x.shape); // [n, Tb]
  return tf.add(tf.div(tf.sum(tf.mul(s, m), 1), tf.sum(m, 1)), headBias) as tf.Tensor1D;
}
/** Logits of rows `ids`, length-sorted batches of 256. */
async function predict(ids: number[]): Promise<Float32Array> {
  const out = new Float32Array(ids.length);
  const order = ids.map((_, k) => k).sort((p, q) => toks[ids[p]!]!.length - toks[ids[q]!]!.length);
  for (let s = 0; s < order.length; s += 256) {
    const ks = order.slice(s, s + 256);
    const { x, m } = batchTensors(ks.map((k) => ids[k]!));
    const z = tf.tidy(() => logitOf(x, m));
    const d = await z.data();
    ks.forEach((k, j) => (out[k] = d[j]!));
    tf.dispose([x, m, z]);
  }
  return out;
}

// ---- training ------------------------------------------------------------------------------
const rand = mulberry32(SEED);
function epochBatches(): number[][] {
  const o = tr.slice();
  for (let i = o.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [o[i], o[j]] = [o[j]!, o[i]!]; }
  // length bucketing: sort chunks of 32 batches by length, then shuffle the batches
  const bs: number[][] = [];
  for (let c = 0; c < o.length; c += 32 * B) {
    const chunk = o.slice(c, c + 32 * B).sort((p, q) => toks[p]!.length - toks[q]!.length);
    for (let s = 0; s < chunk.length; s += B) bs.push(chunk.slice(s, s + B));
  }
  for (let i = bs.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [bs[i], bs[j]] = [bs[j]!, bs[i]!]; }
  return bs;
}
const stepsPerEpoch = Math.ceil(tr.length / B), totalSteps = stepsPerEpoch * EPOCHS;
const lrAt = (s: number) => (s < WARM ? (s + 1) / WARM : Math.max(0.05, 1 - (s - WARM) / Math.max(1, totalSteps - WARM))); // warmup, linear decay
const opt = new AdamW(optParams, { beta1: 0.9, beta2: 0.999, eps: 1e-8 });
const varList = optParams.map((p) => p.variable);
let best = { auc: -1, at: '', weights: new Map<string, Float32Array>() };
let bad = 0, step = 0, trainS = 0, stop = false;
const evalEvery = Math.ceil(stepsPerEpoch / EVALS);
console.log(`train ${tr.length} rows, ${stepsPerEpoch} steps/epoch of ${B}, ${EPOCHS} epochs, lr ${LR}, wd ${WD}, warmup ${WARM}, eval every ${evalEvery} steps, seed ${SEED}`);
console.log('columns: beep curse kodoli kosbi all');
for (let ep = 0; ep < EPOCHS && !stop; ep++) {
  let lossSum = 0, lossN = 0;
  for (const [bi, ids] of epochBatches().entries()) {
    const ts = performance.now();
    const { x, m } = batchTensors(ids);
    const yt = tf.tensor1d(ids.map((i) => y[i]!));
    const { value, grads } = tf.variableGrads(() => {
      const z = logitOf(x, m);
      // BCE with logits: max(z, 0) - z y + log(1 + exp(-|z|))
      return tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, yt)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))) as tf.Scalar;
    }, varList);
    const gm = new Map<string, tf.Tensor>();
    for (const p of optParams) if (grads[p.variable.name]) gm.set(p.name, grads[p.variable.name]!);
    await clipGradNorm(gm, 1.0);
    opt.apply(gm, lrAt(step));
    lossSum += (await value.data())[0]! * ids.length; lossN += ids.length;
    tf.dispose([x, m, yt, value, ...gm.values()]);
    step++;
    trainS += (performance.now() - ts) / 1000;
    const last = bi === stepsPerEpoch - 1;
    if ((bi + 1) % evalEvery === 0 || last) {
      const zc = await predict(ca);
      const ac = aurocs(zc, ca);
      const at = `epoch ${ep + 1} step ${step}`;
      console.log(`${at.padEnd(22)} train loss ${(lossSum / lossN).toFixed(4)} | calib ${ac.map((v) => v.toFixed(4)).join(' ')} | train time ${trainS.toFixed(0)} s`);
      lossSum = 0; lossN = 0;
      if (ac[4]! > best.auc) {
        const weights = new Map<string, Float32Array>();
        for (const p of optParams) weights.set(p.name, (await p.variable.data()) as Float32Array);
        best = { auc: ac[4]!, at, weights };
        bad = 0;
      } else if (++bad >= PATIENCE) { stop = true; console.log(`early stop: no calib gain in ${PATIENCE} evaluations`); break; }
    }
    if (trainS > MAX_TRAIN_S) { stop = true; console.log(`stop: train time over ${MAX_TRAIN_S} s`); break; }
  }
}
lap(`training done: ${step} steps, ${trainS.toFixed(1)} s in steps (${(step * B / trainS).toFixed(0)} rows/s); best ${best.at} calib pooled ${best.auc.toFixed(4)}`);
for (const p of optParams) p.variable.assign(tf.tensor(best.weights.get(p.name)!, p.variable.shape));
model.clearCaches();

// ---- evaluation, throughput ----------------------------------------------------------------
const zc = await predict(ca);
let tInf = performance.now();
const zt = await predict(te);
const infS = (performance.now() - tInf) / 1000;
tInf = performance.now();
for (const i of te) toks[i] = encode(rows[i]!.text);
const tokS = (performance.now() - tInf) / 1000;
console.log(`neural (${best.at})`.padEnd(34) + ` calib ${perSource(zc, ca)} | test ${perSource(zt, te)}`);
console.log(`inference, ${te.length} test rows, batches of 256: model ${(te.length / infS).toFixed(0)} rows/s, tokenizing ${(te.length / tokS).toFixed(0)} rows/s, end to end ${(te.length / (infS + tokS)).toFixed(0)} rows/s`);

// ---- stack with the committed linear model -------------------------------------------------
const lin = await loadClassifier(defaultModelDir());
const lc = ca.map((i) => lin.logit(rows[i]!.text)), lt = te.map((i) => lin.logit(rows[i]!.text));
if (a['save-logits']) writeFileSync(a['save-logits'], JSON.stringify({ ca, te, neuralCalib: [...zc], neuralTest: [...zt], linearCalib: lc, linearTest: lt }));
// The stacker: ridge logistic regression on a few dense inputs (src/safety/ensemble.ts).
const fitDense = (F: number[][], y: boolean[], l2 = 1e-3): number[] => { const st = fitStacker(F, y, l2); return [...st.weights, st.bias]; };
const applyDense = (w: number[], f: number[]) => applyStacker({ weights: w.slice(0, -1), bias: w[w.length - 1]! }, f);
function evalStack(name: string, Fc: number[][], Ft: number[][]): number[] {
  const yc = ca.map((i) => rows[i]!.toxic);
  const oof = new Array(ca.length).fill(0);
  for (let f = 0; f < 5; f++) {
    const trI = ca.map((_, k) => k).filter((k) => k % 5 !== f);
    const w = fitDense(trI.map((k) => Fc[k]!), trI.map((k) => yc[k]!));
    ca.forEach((_, k) => { if (k % 5 === f) oof[k] = applyDense(w, Fc[k]!); });
  }
  const w = fitDense(Fc, yc);
  console.log(`${name.padEnd(34)} calib(cv) ${perSource(oof, ca)} | test ${perSource(Ft.map((f) => applyDense(w, f)), te)} | w ${w.map((v) => v.toFixed(3)).join(',')}`);
  return oof;
}
const linOof = evalStack('committed linear (Platt)', lc.map((v) => [v]), lt.map((v) => [v]));
const stOof = evalStack('stack linear + neural', lc.map((v, k) => [v, zc[k]!]), lt.map((v, k) => [v, zt[k]!]));
// paired bootstrap on calib (out of fold): stack minus linear
const br = mulberry32(99);
const out: string[] = [];
for (const s of [...SRC, 'all']) {
  const ks = ca.map((i, k) => (s === 'all' || rows[i]!.source === s ? k : -1)).filter((k) => k >= 0);
  const diffs: number[] = [];
  for (let r = 0; r < 1000; r++) {
    const pick = ks.map(() => ks[Math.floor(br() * ks.length)]!);
    const yy = pick.map((k) => rows[ca[k]!]!.toxic);
    diffs.push(auroc(pick.map((k) => stOof[k]!), yy) - auroc(pick.map((k) => linOof[k]!), yy));
  }
  diffs.sort((p, q) => p - q);
  const yy = ks.map((k) => rows[ca[k]!]!.toxic);
  const d0 = auroc(ks.map((k) => stOof[k]!), yy) - auroc(ks.map((k) => linOof[k]!), yy);
  out.push(`${s} ${d0 >= 0 ? '+' : ''}${d0.toFixed(4)} [${diffs[25]!.toFixed(4)}, ${diffs[974]!.toFixed(4)}]`);
}
console.log(`stack minus linear, calib (cv), paired bootstrap 95%: ${out.join('; ')}`);
lap('done');
