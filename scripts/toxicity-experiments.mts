/**
 * The measurements behind docs/toxicity.md's "issue 16, classifier part" table: every variant is
 * trained on the train split and measured per source on the calibration split (selection) and the
 * test split (report). Features are extracted once per run. Not part of the build or the tests.
 *
 *   node --import tsx scripts/toxicity-experiments.mts base,stack   # pooled, per-source experts, stacks, MoE
 *   node --import tsx scripts/toxicity-experiments.mts nb,nb2,hp,bin,bigram
 *   node --import tsx scripts/toxicity-experiments.mts avg,fold,fold2
 *   NN='18,16,32,5,0.005,0' node --import tsx scripts/toxicity-experiments.mts nn   # bits,dim,hidden,epochs,lr,onLRbase
 *   node --import tsx scripts/toxicity-experiments.mts nnstack
 *
 * Columns: beep curse-detection kodoli kosbi-valid pooled (AUROC). "calib(cv)": a stacker fitted
 * on 4/5 of the calibration split, scored on the other 1/5, 5 folds.
 */
import { loadSources, type SourceRow } from '../src/safety/train-sources.ts';
import { JAMO_FEATURES, extractFeatures, type SparseVector } from '../src/safety/features.ts';
import { DEFAULT_TRAIN_OPTIONS, fitLogistic, type TrainOptions } from '../src/safety/train.ts';
import { auroc } from '../src/safety/metrics.ts';
import { applyStacker, fitStacker } from '../src/safety/ensemble.ts';
import { decodeFloat16, encodeFloat16 } from '../src/util/float16.ts';

const t0 = performance.now();
const lap = (s: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}`);
const D = new URL('../../shared/data', import.meta.url).pathname;
const { rows } = await loadSources([`${D}/korean-hate-speech`, `${D}/toxicity-ko`]);
const feats = JAMO_FEATURES;
const X = rows.map((r) => extractFeatures(r.text, feats));
lap(`features ${rows.length}`);
const SRC = ['beep', 'curse-detection', 'kodoli', 'kosbi-valid'];
const idx = (pred: (r: SourceRow) => boolean) => rows.map((r, i) => (pred(r) ? i : -1)).filter((i) => i >= 0);
const tr = idx((r) => r.split === 'train'), ca = idx((r) => r.split === 'calib'), te = idx((r) => r.split === 'test');
const sig = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
function dot(w: Float32Array, b: number, x: SparseVector, scale?: Float32Array): number {
  let z = b;
  for (let k = 0; k < x.idx.length; k++) z += w[x.idx[k]!]! * x.val[k]! * (scale ? scale[x.idx[k]!]! : 1);
  return z;
}
type Model = { w: Float32Array; b: number; scale?: Float32Array };
function train(ids: number[], opts: Partial<TrainOptions> = {}, scale?: Float32Array, label = (i: number) => rows[i]!.toxic): Model {
  const o = { ...DEFAULT_TRAIN_OPTIONS, ...opts, features: feats };
  const xs = ids.map((i) => (scale ? { idx: X[i]!.idx, val: X[i]!.val.map((v, k) => v * scale[X[i]!.idx[k]!]!) } : X[i]!));
  const { weights, bias } = fitLogistic(xs, ids.map(label), o);
  return { w: decodeFloat16(encodeFloat16(weights)), b: bias, scale };
}
const logits = (m: Model, ids: number[]) => ids.map((i) => dot(m.w, m.b, X[i]!, m.scale));
function perSource(scores: number[], ids: number[]): string {
  const out: string[] = [];
  for (const s of [...SRC, 'all']) {
    const ss: number[] = [], yy: boolean[] = [];
    ids.forEach((i, k) => { if (s === 'all' || rows[i]!.source === s) { ss.push(scores[k]!); yy.push(rows[i]!.toxic); } });
    out.push(auroc(ss, yy).toFixed(4));
  }
  return out.join(' ');
}
// The stacker: ridge logistic regression on a few dense inputs (src/safety/ensemble.ts).
const fitDense = (F: number[][], y: boolean[], l2 = 1e-3): number[] => { const st = fitStacker(F, y, l2); return [...st.weights, st.bias]; };
const applyDense = (w: number[], f: number[]) => applyStacker({ weights: w.slice(0, -1), bias: w[w.length - 1]! }, f);
// stacker eval: 5-fold CV on calib (for selection), fit on all calib -> test
function evalStack(name: string, Fc: number[][], Ft: number[][], l2 = 1e-3) {
  const yc = ca.map((i) => rows[i]!.toxic);
  const oof = new Array(ca.length).fill(0);
  for (let f = 0; f < 5; f++) {
    const trI = ca.map((_, k) => k).filter((k) => k % 5 !== f);
    const w = fitDense(trI.map((k) => Fc[k]!), trI.map((k) => yc[k]!), l2);
    ca.forEach((_, k) => { if (k % 5 === f) oof[k] = applyDense(w, Fc[k]!); });
  }
  const w = fitDense(Fc, yc, l2);
  const st = Ft.map((f) => applyDense(w, f));
  console.log(`${name.padEnd(34)} calib(cv) ${perSource(oof, ca)} | test ${perSource(st, te)} | w ${w.map((v) => v.toFixed(2)).join(',')}`);
}
const exps = (process.argv[2] ?? 'base').split(',');
console.log('columns: beep curse kodoli kosbi all');
const report = (name: string, m: Model) => console.log(`${name.padEnd(34)} calib ${perSource(logits(m, ca), ca)} | test ${perSource(logits(m, te), te)}`);
if (exps.includes('base') || exps.includes('stack')) {
  const pooled = train(tr);
  report('pooled', pooled);
  lap('pooled');
  const experts: Model[] = [];
  for (const s of SRC) {
    const ids = tr.filter((i) => rows[i]!.source === s);
    const m = train(ids, { epochs: Number(process.env.EXP_EPOCHS ?? 5) });
    experts.push(m);
    report(`expert ${s}`, m);
  }
  lap('experts');
  const all = [pooled, ...experts];
  const Lc = all.map((m) => logits(m, ca)), Lt = all.map((m) => logits(m, te));
  const feat = (L: number[][], n: number, sel: number[]) => Array.from({ length: n }, (_, k) => sel.map((j) => L[j]![k]!));
  evalStack('stack pooled only (=Platt)', feat(Lc, ca.length, [0]), feat(Lt, te.length, [0]));
  evalStack('stack experts', feat(Lc, ca.length, [1, 2, 3, 4]), feat(Lt, te.length, [1, 2, 3, 4]));
  evalStack('stack pooled+experts', feat(Lc, ca.length, [0, 1, 2, 3, 4]), feat(Lt, te.length, [0, 1, 2, 3, 4]));
  if (exps.includes('stack')) {
    // domain model: one-vs-rest LR per source, gates
    const dom = SRC.map((s) => train(tr, { epochs: 2 }, undefined, (i) => rows[i]!.source === s));
    lap('domain');
    const Dc = dom.map((m) => logits(m, ca)), Dt = dom.map((m) => logits(m, te));
    const gated = (L: number[][], Dd: number[][], n: number) => Array.from({ length: n }, (_, k) => {
      const ps = Dd.map((d) => sig(d[k]!)); const sum = ps.reduce((a, b) => a + b, 0);
      const g = ps.map((p) => p / sum);
      return [L[0]![k]!, ...[1, 2, 3, 4].map((j) => L[j]![k]!), ...[1, 2, 3, 4].map((j) => g[j - 1]! * L[j]![k]!), ...Dd.map((d) => d[k]!)];
    });
    evalStack('stack MoE (z, g*z, domain)', gated(Lc, Dc, ca.length), gated(Lt, Dt, te.length));
    const g2 = (L: number[][], Dd: number[][], n: number) => gated(L, Dd, n).map((f) => f.slice(5, 9).concat([f[0]!]));
    evalStack('stack MoE (pooled, g*z)', g2(Lc, Dc, ca.length), g2(Lt, Dt, te.length));
    // domain accuracy on test
    let ok = 0; te.forEach((i, k) => { const best = Dt.map((d) => d[k]!).reduce((bi, v, j, a) => (v > a[bi]! ? j : bi), 0); if (SRC[best] === rows[i]!.source) ok++; });
    console.log(`domain accuracy test ${(ok / te.length).toFixed(4)}`);
  }
}
if (exps.includes('nb')) {
  const dim = 2 ** feats.bucketBits;
  for (const alpha of [1e-1, 1]) {
    const p = new Float64Array(dim).fill(alpha), q = new Float64Array(dim).fill(alpha);
    for (const i of tr) { const x = X[i]!; const a = rows[i]!.toxic ? p : q; for (let k = 0; k < x.idx.length; k++) a[x.idx[k]!] += x.val[k]!; }
    let sp = 0, sq = 0; for (let j = 0; j < dim; j++) { sp += p[j]!; sq += q[j]!; }
    const r = new Float32Array(dim); for (let j = 0; j < dim; j++) r[j] = Math.log(p[j]! / sp / (q[j]! / sq));
    const absr = r.map((v) => Math.abs(v));
    report(`NB log-ratio a=${alpha} signed`, train(tr, {}, r));
    report(`NB |r| a=${alpha}`, train(tr, {}, absr));
    const onePlus = absr.map((v) => 1 + v);
    report(`NB 1+|r| a=${alpha}`, train(tr, {}, onePlus));
    lap('nb');
  }
}
if (exps.includes('hp')) {
  for (const [lr, l2, ep] of [[0.01, 0, 5], [0.01, 1e-4, 5], [0.005, 1e-5, 5], [0.02, 1e-5, 3], [0.01, 1e-6, 5]] as const) {
    report(`lr ${lr} l2 ${l2} ep ${ep}`, train(tr, { learningRate: lr, l2, epochs: ep }));
    lap('hp');
  }
}
function nbRatio(alpha: number, XX: SparseVector[] = X): Float32Array {
  const dim = 2 ** feats.bucketBits;
  const p = new Float64Array(dim).fill(alpha), q = new Float64Array(dim).fill(alpha);
  for (const i of tr) { const x = XX[i]!; const a = rows[i]!.toxic ? p : q; for (let k = 0; k < x.idx.length; k++) a[x.idx[k]!] += x.val[k]!; }
  let sp = 0, sq = 0; for (let j = 0; j < dim; j++) { sp += p[j]!; sq += q[j]!; }
  const r = new Float32Array(dim); for (let j = 0; j < dim; j++) r[j] = Math.abs(Math.log(p[j]! / sp / (q[j]! / sq)));
  return r;
}
if (exps.includes('nb2')) {
  for (const a of [0.01, 0.03, 0.3]) { report(`NB a=${a}`, train(tr, {}, nbRatio(a))); lap('nb2'); }
  const r = nbRatio(0.1);
  report('NB a=0.1 l2 1e-4', train(tr, { l2: 1e-4 }, r));
  report('NB a=0.1 l2 3e-5', train(tr, { l2: 3e-5 }, r));
  report('NB a=0.1 ep 3', train(tr, { epochs: 3 }, r));
  report('NB a=0.1 lr 0.005', train(tr, { learningRate: 0.005 }, r));
  lap('nb2');
}
if (exps.includes('bin')) {
  const orig = X.slice();
  for (let i = 0; i < X.length; i++) { const n = X[i]!.idx.length; X[i] = { idx: X[i]!.idx, val: new Float32Array(n).fill(1 / Math.sqrt(Math.max(1, n))) }; }
  report('binary values', train(tr));
  report('binary + NB 0.1', train(tr, {}, nbRatio(0.1)));
  for (let i = 0; i < X.length; i++) X[i] = orig[i]!;
  lap('bin');
}
if (exps.includes('bigram')) {
  const mask = (1 << feats.bucketBits) - 1;
  const fnv = (h: number, c: number) => { h ^= c & 0xff; h = Math.imul(h, 0x01000193); h ^= c >>> 8; return Math.imul(h, 0x01000193) >>> 0; };
  const { normalizeText } = await import('../src/safety/features.ts');
  for (let i = 0; i < X.length; i++) {
    const ws = normalizeText(rows[i]!.text, 3).split(' ').filter(Boolean);
    const m = new Map<number, number>();
    const x = X[i]!;
    let sq0 = 0; for (const v of x.val) sq0 += v * v;
    // undo normalization is impossible exactly; approximate: scale existing by 1, add bigram log1p(count) scaled by same norm
    for (let k = 0; k < ws.length - 1; k++) { let h = fnv(0x811c9dc5, 5); for (const ch of ws[k]! + ' ' + ws[k + 1]!) h = fnv(h, ch.charCodeAt(0)); m.set(h & mask, (m.get(h & mask) ?? 0) + 1); }
    const all = new Map<number, number>(); x.idx.forEach((j, k) => all.set(j, x.val[k]!));
    const nTok = x.idx.length;
    for (const [j, c] of m) all.set(j, (all.get(j) ?? 0) + Math.log1p(c) / Math.sqrt(Math.max(1, nTok)));
    const keys = [...all.keys()].sort((a, b) => a - b);
    const val = new Float32Array(keys.map((j) => all.get(j)!)); let sq = 0; for (const v of val) sq += v * v; const inv = 1 / Math.sqrt(sq || 1);
    X[i] = { idx: new Uint32Array(keys), val: val.map((v) => v * inv) };
  }
  lap('bigram feats');
  report('+ word bigrams', train(tr));
  report('+ word bigrams + NB 0.1', train(tr, {}, nbRatio(0.1)));
  lap('bigram');
}
import { mulberry32 } from '../src/util/random.ts';
// fastText-style: h = sum_k val_k E[idx_k & mask]; z = [zLR] + w2 . relu(W1 h + b1) + b2
function fitNN(ids: number[], o: { bits: number; d: number; H: number; epochs: number; lr: number; seed: number; base?: Model; l2: number }) {
  const rows_ = 2 ** o.bits, mask = rows_ - 1, d = o.d, H = o.H;
  const rand = mulberry32(o.seed);
  const E = new Float32Array(rows_ * d).map(() => (rand() * 2 - 1) * 0.5);
  const W1 = new Float32Array(H * d).map(() => (rand() * 2 - 1) * Math.sqrt(6 / (d + H)));
  const b1 = new Float32Array(H), w2 = new Float32Array(H).map(() => (rand() * 2 - 1) * 0.1);
  let b2 = 0;
  const P = [E, W1, b1, w2];
  const M = P.map((p) => new Float32Array(p.length)), V = P.map((p) => new Float32Array(p.length));
  let mb2 = 0, vb2 = 0;
  const gE = new Float32Array(rows_ * d), gW1 = new Float32Array(H * d), gb1 = new Float32Array(H), gw2 = new Float32Array(H);
  const seen = new Uint8Array(rows_); const touched: number[] = [];
  const base = ids.map((i) => (o.base ? dot(o.base.w, o.base.b, X[i]!, o.base.scale) : 0));
  const order = ids.map((_, k) => k);
  const h = new Float32Array(d), a = new Float32Array(H), ga = new Float32Array(H), gh = new Float32Array(d);
  let step = 0;
  const B = 32, b1m = 0.9, b2m = 0.999;
  for (let ep = 0; ep < o.epochs; ep++) {
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
    for (let s = 0; s < order.length; s += B) {
      const e = Math.min(order.length, s + B), n = e - s; let gb2 = 0;
      for (let p = s; p < e; p++) {
        const k = order[p]!, x = X[ids[k]!]!;
        h.fill(0);
        for (let t = 0; t < x.idx.length; t++) { const r = (x.idx[t]! & mask) * d, v = x.val[t]!; for (let q = 0; q < d; q++) h[q] += v * E[r + q]!; }
        let z = base[k]! + b2;
        for (let u = 0; u < H; u++) { let s2 = b1[u]!; for (let q = 0; q < d; q++) s2 += W1[u * d + q]! * h[q]!; a[u] = s2 > 0 ? s2 : 0; z += w2[u]! * a[u]!; }
        const err = (sig(z) - (rows[ids[k]!]!.toxic ? 1 : 0)) / n;
        gb2 += err; gh.fill(0);
        for (let u = 0; u < H; u++) { gw2[u] += err * a[u]!; ga[u] = a[u]! > 0 ? err * w2[u]! : 0; if (ga[u]) { gb1[u] += ga[u]!; for (let q = 0; q < d; q++) { gW1[u * d + q] += ga[u]! * h[q]!; gh[q] += ga[u]! * W1[u * d + q]!; } } }
        for (let t = 0; t < x.idx.length; t++) { const j = x.idx[t]! & mask, r = j * d, v = x.val[t]!; if (!seen[j]) { seen[j] = 1; touched.push(j); } for (let q = 0; q < d; q++) gE[r + q] += v * gh[q]!; }
      }
      step++;
      const lr = (o.lr * Math.sqrt(1 - b2m ** step)) / (1 - b1m ** step);
      const upd = (pi: number, g: Float32Array, j: number, l2: number) => { const gg = g[j]! + l2 * P[pi]![j]!; M[pi]![j] = b1m * M[pi]![j]! + (1 - b1m) * gg; V[pi]![j] = b2m * V[pi]![j]! + (1 - b2m) * gg * gg; P[pi]![j] -= (lr * M[pi]![j]!) / (Math.sqrt(V[pi]![j]!) + 1e-8); g[j] = 0; };
      for (const j of touched) { for (let q = 0; q < d; q++) upd(0, gE, j * d + q, o.l2); seen[j] = 0; }
      touched.length = 0;
      for (let j = 0; j < H * d; j++) upd(1, gW1, j, 0);
      for (let j = 0; j < H; j++) { upd(2, gb1, j, 0); upd(3, gw2, j, 0); }
      mb2 = b1m * mb2 + (1 - b1m) * gb2; vb2 = b2m * vb2 + (1 - b2m) * gb2 * gb2; b2 -= (lr * mb2) / (Math.sqrt(vb2) + 1e-8);
    }
  }
  const Eh = decodeFloat16(encodeFloat16(E));
  return (i: number) => {
    const x = X[i]!; h.fill(0);
    for (let t = 0; t < x.idx.length; t++) { const r = (x.idx[t]! & mask) * d, v = x.val[t]!; for (let q = 0; q < d; q++) h[q] += v * Eh[r + q]!; }
    let z = (o.base ? dot(o.base.w, o.base.b, x, o.base.scale) : 0) + b2;
    for (let u = 0; u < H; u++) { let s2 = b1[u]!; for (let q = 0; q < d; q++) s2 += W1[u * d + q]! * h[q]!; if (s2 > 0) z += w2[u]! * s2; }
    return z;
  };
}
if (exps.includes('nn')) {
  const cfgs = (process.env.NN ?? '18,16,32,5,0.005,0').split(';').map((s) => s.split(',').map(Number));
  let lrBase: Model | undefined;
  for (const [bits, d, H, epochs, lr, useBase] of cfgs) {
    if (useBase && !lrBase) lrBase = train(tr, {}, nbRatio(0.1));
    const f = fitNN(tr, { bits: bits!, d: d!, H: H!, epochs: epochs!, lr: lr!, seed: 7, base: useBase ? lrBase : undefined, l2: 0 });
    console.log(`${`nn b${bits} d${d} H${H} ep${epochs} lr${lr}${useBase ? ' +NB-LR base' : ''}`.padEnd(34)} calib ${perSource(ca.map(f), ca)} | test ${perSource(te.map(f), te)}`);
    lap('nn');
  }
}
if (exps.includes('nnstack')) {
  const lrm = train(tr, {}, nbRatio(0.1));
  const f = fitNN(tr, { bits: 18, d: 16, H: 32, epochs: 2, lr: 0.005, seed: 7, l2: 0 });
  console.log(`${'nn ep2'.padEnd(34)} calib ${perSource(ca.map(f), ca)} | test ${perSource(te.map(f), te)}`);
  const F = (ids: number[]) => ids.map((i) => [dot(lrm.w, lrm.b, X[i]!, lrm.scale), f(i)]);
  evalStack('stack NB-LR + nn', F(ca), F(te));
  evalStack('NB-LR Platt', F(ca).map((v) => [v[0]!]), F(te).map((v) => [v[0]!]));
}
function pairedBoot(a: number[], b: number[], ids: number[], reps = 1000): string {
  const out: string[] = [];
  const rand = mulberry32(99);
  for (const s of [...SRC, 'all']) {
    const ks = ids.map((i, k) => (s === 'all' || rows[i]!.source === s ? k : -1)).filter((k) => k >= 0);
    const diffs: number[] = [];
    for (let r = 0; r < reps; r++) {
      const pick = ks.map(() => ks[Math.floor(rand() * ks.length)]!);
      const y = pick.map((k) => rows[ids[k]!]!.toxic);
      diffs.push(auroc(pick.map((k) => b[k]!), y) - auroc(pick.map((k) => a[k]!), y));
    }
    diffs.sort((x, y) => x - y);
    const y0 = ks.map((k) => rows[ids[k]!]!.toxic);
    const d0 = auroc(ks.map((k) => b[k]!), y0) - auroc(ks.map((k) => a[k]!), y0);
    out.push(`${s} ${d0 >= 0 ? '+' : ''}${d0.toFixed(4)} [${diffs[25]!.toFixed(4)}, ${diffs[974]!.toFixed(4)}]`);
  }
  return out.join('; ');
}
if (exps.includes('avg')) {
  const avgModel = (ms: Model[]): Model => {
    const w = new Float32Array(ms[0]!.w.length);
    for (const m of ms) for (let j = 0; j < w.length; j++) w[j] += (m.w[j]! * (m.scale ? m.scale[j]! : 1)) / ms.length;
    return { w, b: ms.reduce((s, m) => s + m.b, 0) / ms.length };
  };
  const base = train(tr);
  const r = nbRatio(0.1);
  const nb = train(tr, {}, r);
  report('base', base); report('NB 0.1', nb);
  const cs = (m: Model) => logits(m, ca);
  console.log('NB vs base, calib paired bootstrap:', pairedBoot(cs(base), cs(nb), ca));
  const seeds = [20240611, 1, 2, 3, 4];
  const bs = [base, ...seeds.slice(1).map((s) => train(tr, { seed: s }))];
  lap('seeds base');
  const ab = avgModel(bs); report('base 5-seed average', ab);
  console.log('avg5 vs base:', pairedBoot(cs(base), cs(ab), ca));
  const ns = [nb, ...seeds.slice(1).map((s) => train(tr, { seed: s }, r))];
  lap('seeds nb');
  const an = avgModel(ns); report('NB 5-seed average', an);
  console.log('NB avg5 vs base:', pairedBoot(cs(base), cs(an), ca));
  const mix = avgModel([ab, an]); report('avg(base avg5, NB avg5)', mix);
  console.log('mix vs base:', pairedBoot(cs(base), cs(mix), ca));
  const a3 = avgModel(ns.slice(0, 3)); report('NB 3-seed average', a3);
}
if (exps.includes('fold')) {
  const r = nbRatio(0.1);
  const base = train(tr), nb = train(tr, {}, r);
  const Z = (ms: Model[], ids: number[]) => ids.map((i) => ms.map((m) => dot(m.w, m.b, X[i]!, m.scale)));
  const bl = logits(base, ca);
  evalStack('S0 base (Platt)', Z([base], ca), Z([base], te));
  evalStack('S1 base+NB', Z([base, nb], ca), Z([base, nb], te));
  const mixF = (ids: number[]) => Z([base, nb], ids).map((v) => [(v[0]! + v[1]!) / 2]);
  evalStack('S1b mean(base,NB) Platt', mixF(ca), mixF(te));
  console.log('S1b vs base:', pairedBoot(bl, mixF(ca).map((v) => v[0]!), ca));
  const ex = SRC.map((s) => train(tr.filter((i) => rows[i]!.source === s)));
  const exNb = SRC.map((s) => train(tr.filter((i) => rows[i]!.source === s), {}, r));
  lap('experts');
  evalStack('S2 base+NB+experts', Z([base, nb, ...ex], ca), Z([base, nb, ...ex], te));
  evalStack('S3 base+NB+NBexperts', Z([base, nb, ...exNb], ca), Z([base, nb, ...exNb], te));
  evalStack('S3b base+NB+both experts', Z([base, nb, ...ex, ...exNb], ca), Z([base, nb, ...ex, ...exNb], te));
  const orig = X.slice();
  for (let i = 0; i < X.length; i++) { const n = X[i]!.idx.length; X[i] = { idx: X[i]!.idx, val: new Float32Array(n).fill(1 / Math.sqrt(Math.max(1, n))) }; }
  const binNb = train(tr, {}, nbRatio(0.1));
  const Zb = (ids: number[]) => ids.map((i) => binNb.w.length && dot(binNb.w, binNb.b, X[i]!, binNb.scale));
  const zbc = Zb(ca), zbt = Zb(te);
  for (let i = 0; i < X.length; i++) X[i] = orig[i]!;
  const S4 = (ids: number[], zb: number[]) => Z([base, nb], ids).map((v, k) => [...v, zb[k]!]);
  evalStack('S4 base+NB+binNB (not foldable)', S4(ca, zbc), S4(te, zbt));
}
if (exps.includes('fold2')) {
  const r = nbRatio(0.1);
  const base = train(tr), nb = train(tr, {}, r), l2m = train(tr, { l2: 1e-4 }), nbl2 = train(tr, { l2: 1e-4 }, r), nb001 = train(tr, {}, nbRatio(0.01));
  const Z = (ms: Model[], ids: number[]) => ids.map((i) => ms.map((m) => dot(m.w, m.b, X[i]!, m.scale)));
  evalStack('S1 base+NB', Z([base, nb], ca), Z([base, nb], te));
  evalStack('S5 base+NB+base(l2 1e-4)', Z([base, nb, l2m], ca), Z([base, nb, l2m], te));
  evalStack('S6 base+NB+NB(l2 1e-4)', Z([base, nb, nbl2], ca), Z([base, nb, nbl2], te));
  evalStack('S7 base+NB+NB(a=0.01)', Z([base, nb, nb001], ca), Z([base, nb, nb001], te));
}
