/**
 * The fused kernels of the fast magnitude merges (TIES, breadcrumbs): the task vector with the
 * selection's first histogram in one pass; the merge pass as trim, weight, sign election, disjoint
 * mean and θ₀ + λ·m in one loop for two models. Same f32 arithmetic, in the same order, as the
 * reference chain delta → magnitudeBand → weightedSum([x], [w]) → electSign → disjointMean →
 * weightedSum([θ₀, m], [1, λ]) (src/core/kernels), so the merged bits are identical.
 * Kept or not, agreeing or not, are random per element: they are computed as 0/1 integers and
 * applied as bit masks, never branched on (a mispredicted branch per element costs more than the
 * arithmetic).
 */
// d, bits: [n] one chunk of δ (or of w·δ) and its Int32 view   base, out: [n]
import { INF_BITS } from './magnitude-select';

const f = Math.fround;
const LOW_SHIFT = 15;

/** d[i] = table[words[i]] − base[i], counting |d| bits by their top 16 bits (NaNs skipped) into `hist`. */
export function deltaCountHigh(
  words: Uint16Array,
  table: Float32Array,
  base: Float32Array,
  d: Float32Array,
  bits: Int32Array,
  hist: Uint32Array | undefined,
): void {
  const n = d.length;
  if (!hist) {
    for (let i = 0; i < n; i++) d[i] = table[words[i]!]! - base[i]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    d[i] = table[words[i]!]! - base[i]!;
    const a = bits[i]! & 0x7fffffff;
    hist[a >>> LOW_SHIFT]! += +(a <= INF_BITS);
  }
}

/**
 * Which |x| bits a band keeps over a run of indices: a − lo, as u32, below `span` (lo ≤ a < lo + span).
 * The tie bounds of the reference's band are folded in per run: below the index where ties stop
 * being kept the band starts at `lo`, above it at lo + 1.
 */
export interface RunBand {
  readonly lo: number;
  readonly span: number;
}

/** Keeps every element, NaNs included (a model that is not sparsified). */
export const KEEP_ALL: RunBand = { lo: 0, span: 2 ** 32 };

/** The f32 bits of f32(w · 0): what a dropped element becomes. */
function zeroBits(w: number): number {
  const z = new Float32Array([f(w) * 0]);
  return new Int32Array(z.buffer)[0]!;
}

/** d[i] ← f32(w · (kept ? d[i] : 0)) for i in [from, to). */
export function weightBandRun(
  d: Float32Array,
  bits: Int32Array,
  band: RunBand,
  w: number,
  from: number,
  to: number,
): void {
  const wf = f(w);
  const zero = zeroBits(w);
  const { lo, span } = band;
  for (let i = from; i < to; i++) {
    const keep = +(((bits[i]! & 0x7fffffff) - lo) >>> 0 < span);
    d[i] = wf * d[i]!;
    bits[i] = (bits[i]! & -keep) | (zero & (keep - 1));
  }
}

/** The two task vectors of a TIES merge: δ chunks, bit views, weights and bands for one run. */
export interface TiesPair {
  readonly d0: Float32Array;
  readonly b0: Int32Array;
  readonly d1: Float32Array;
  readonly b1: Int32Array;
  readonly w0: number;
  readonly w1: number;
}

/**
 * out = θ₀ + λ · disjointMean(x, electSign(x)) over [from, to) for two models, where
 * x_t = f32(w_t · band_t(δ_t)). `divisors[agree0 | agree1 << 1]`: the disjoint mean's divisor for
 * each agreement (1 where none agree, all 1 without normalize). Overwrites d0 and d1.
 */
export function tiesPairRun(
  p: TiesPair,
  band0: RunBand,
  band1: RunBand,
  divisors: Float64Array,
  base: Float32Array,
  lambda: number,
  out: Float32Array,
  from: number,
  to: number,
): void {
  const { d0, b0, d1, b1 } = p;
  const [w0, w1, lam] = [f(p.w0), f(p.w1), f(lambda)];
  const [z0, z1] = [zeroBits(p.w0), zeroBits(p.w1)];
  const [lo0, span0, lo1, span1] = [band0.lo, band0.span, band1.lo, band1.span];
  for (let i = from; i < to; i++) {
    const k0 = +(((b0[i]! & 0x7fffffff) - lo0) >>> 0 < span0);
    const k1 = +(((b1[i]! & 0x7fffffff) - lo1) >>> 0 < span1);
    d0[i] = w0 * d0[i]!;
    d1[i] = w1 * d1[i]!;
    b0[i] = (b0[i]! & -k0) | (z0 & (k0 - 1));
    b1[i] = (b1[i]! & -k1) | (z1 & (k1 - 1));
    const x = d0[i]!;
    const y = d1[i]!;
    const pos = +(f(f(0 + x) + y) >= 0);
    const neg = pos ^ 1;
    const a0 = (pos & +(x > 0)) | (neg & +(x < 0));
    const a1 = (pos & +(y > 0)) | (neg & +(y < 0));
    // Disagreeing values become +0, so the sum is x, y, x + y or 0 as the reference's is.
    b0[i] = b0[i]! & -a0;
    b1[i] = b1[i]! & -a1;
    const mixed = f(f(d0[i]! + d1[i]!) / divisors[a0 | (a1 << 1)]!);
    out[i] = f(base[i]! + f(lam * mixed));
  }
}

/** The divisors tiesPairRun picks from: Σ of the agreeing weights in f32 (1 for none), or all 1. */
export function pairDivisors(w0: number, w1: number, normalize: boolean): Float64Array {
  if (!normalize) return new Float64Array([1, 1, 1, 1]);
  const nonzero = (v: number) => (v === 0 ? 1 : v);
  return new Float64Array([1, nonzero(f(w0)), nonzero(f(w1)), nonzero(f(f(w0) + f(w1)))]);
}

// xs: K × [n] weighted trimmed task vectors   ws: [K]   base, out: [n]
/** out = θ₀ + λ · disjointMean(xs, ws, electSign(xs), normalize), any number of models. */
export function signMeanInto(
  xs: readonly Float32Array[],
  ws: readonly number[],
  normalize: boolean,
  base: Float32Array,
  lambda: number,
  out: Float32Array,
): void {
  const lam = f(lambda);
  const w = ws.map((v) => f(v));
  const k = xs.length;
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let t = 0; t < k; t++) s = f(s + xs[t]![i]!);
    const positive = s >= 0;
    let sum = 0;
    let div = 0;
    for (let t = 0; t < k; t++) {
      const v = xs[t]![i]!;
      if (positive ? v > 0 : v < 0) {
        sum = f(sum + v);
        div = f(div + w[t]!);
      }
    }
    const mixed = normalize ? f(sum / (div === 0 ? 1 : div)) : sum;
    out[i] = f(base[i]! + f(lam * mixed));
  }
}

/** out = θ₀ + Σ_t f32(c_t · x_t), summed in order (weightedSum([θ₀, ...xs], [1, ...cs])). */
export function baseSumInto(base: Float32Array, xs: readonly Float32Array[], cs: readonly number[], out: Float32Array) {
  out.set(base);
  for (let t = 0; t < xs.length; t++) {
    const x = xs[t]!;
    const c = f(cs[t]!);
    for (let i = 0; i < out.length; i++) out[i] = f(out[i]! + f(c * x[i]!));
  }
}
