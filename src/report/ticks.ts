/**
 * Axis ticks a reader can trust: every tick is a multiple of a "nice" step (1, 2 or 5 x 10^k),
 * every tick lies inside the data range [lo, hi] (never in the padding around it), and an
 * integer axis (optimizer steps, row counts) only gets integer steps.
 */

export interface TickOptions {
  /** At most this many ticks; at least 5 (so that two ticks always fit). Default 6. */
  maxTicks?: number;
  /** Only integer steps (step axes, counts). */
  integer?: boolean;
}

export interface Ticks {
  /** The tick values, ascending, all inside [lo, hi]. */
  values: number[];
  /** The step between ticks (0 when there is a single tick). */
  step: number;
  /** The labels, formatted alike (same number of decimals). */
  labels: string[];
}

const MANTISSAS = [1, 2, 5];

/** Decimals needed to write multiples of `step` exactly (step = m x 10^k, m in {1, 2, 5}). */
function decimalsOf(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** k x step without float noise (0.1 * 3 = 0.30000000000000004 -> 0.3). */
function multiple(k: number, step: number): number {
  const d = decimalsOf(step);
  return Number((k * step).toFixed(Math.min(20, d)));
}

function countInside(lo: number, hi: number, step: number): number {
  return Math.floor(hi / step + 1e-9) - Math.ceil(lo / step - 1e-9) + 1;
}

/**
 * Formats one tick with the axis's decimals. Axes whose values are all tiny (< 0.001) or huge
 * (>= 10^6) use e-notation (2e-5, 4e6); `magnitude` is the largest |value| on the axis.
 */
export function formatTick(v: number, step: number, magnitude = Math.abs(v)): string {
  if (step > 0 && magnitude > 0 && (magnitude < 1e-3 || magnitude >= 1e6)) {
    if (v === 0) return '0';
    const e = Math.floor(Math.log10(step) + 1e-9);
    const digits = Math.max(0, Math.floor(Math.log10(Math.abs(v)) + 1e-9) - e);
    return v.toExponential(Math.min(20, digits)).replace(/\.?0+e/, 'e').replace('e+', 'e');
  }
  return v.toFixed(step > 0 ? Math.min(20, decimalsOf(step)) : 0);
}

/** Labels for one value alone (a constant series): at most 4 significant digits. */
function formatSingle(v: number, integer: boolean): string {
  if (integer || Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/**
 * Nice ticks inside [lo, hi]: the smallest nice step that gives at most `maxTicks` ticks. That
 * always leaves at least two ticks: the nice step before gave more than maxTicks >= 5, and nice
 * steps grow by at most 2.5x, so the range spans at least two steps. A zero-width range (one value, or a
 * constant series) gets that one value as its only tick.
 */
export function niceTicks(lo: number, hi: number, opts: TickOptions = {}): Ticks {
  const maxTicks = Math.max(5, opts.maxTicks ?? 6);
  const integer = opts.integer ?? false;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { values: [], step: 0, labels: [] };
  if (lo > hi) [lo, hi] = [hi, lo];
  const range = hi - lo;
  if (range === 0 || (integer && Math.ceil(lo) > Math.floor(hi))) {
    const v = integer ? Math.round(lo) : lo;
    return integer && !(v >= lo && v <= hi) ? { values: [], step: 0, labels: [] } : { values: [v], step: 0, labels: [formatSingle(v, integer)] };
  }
  // Walk the nice steps up from well below the range (1, 2, 5, 10, 20, 50, ...) and take the
  // first that gives at most maxTicks ticks.
  let exp = Math.floor(Math.log10(range / maxTicks)) - 1;
  let step = 0;
  for (let guard = 0; guard < 64 && step === 0; guard++, exp++) {
    for (const m of MANTISSAS) {
      const s = Number(`${m}e${exp}`);
      if (integer && s < 1) continue;
      if (countInside(lo, hi, s) <= maxTicks) {
        step = s;
        break;
      }
    }
  }
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) {
    // Inside [lo, hi] up to float noise in the data (0.30000000000000004 gets the tick 0.3).
    values.push(multiple(k, step));
  }
  const magnitude = Math.max(...values.map(Math.abs));
  return { values, step, labels: values.map((v) => formatTick(v, step, magnitude)) };
}

/** Whether `v` is an integer multiple of a nice step (1, 2 or 5 x 10^k): what the tests check. */
export function isNiceMultiple(v: number, step: number): boolean {
  if (step <= 0) return false;
  const e = Math.floor(Math.log10(step) + 1e-9);
  const m = Math.round(step / 10 ** e);
  if (!MANTISSAS.includes(m) || Math.abs(step - m * 10 ** e) > 1e-9 * step) return false;
  const k = v / step;
  return Math.abs(k - Math.round(k)) < 1e-6;
}
