/**
 * The kernels of the fast magnitude merges (TIES, breadcrumbs): the task vector and the selection's
 * first histogram; the merge pass for two models as one loop (trim, weight, sign election, disjoint
 * mean and θ₀ + λ·m); for other model counts, trim (an integer mask loop) then weight per model.
 * Same f32 arithmetic, in the same order, as the reference chain delta → magnitudeBand →
 * weightedSum([x], [w]) → electSign → disjointMean → weightedSum([θ₀, m], [1, λ]) (src/core/kernels),
 * so the merged bits are identical. Kept or not, agreeing or not, are random per element: they are
 * 0/1 integers used as masks and factors, never branched on (a mispredicted branch per element
 * costs more than the arithmetic). A loop never reads an element through the Int32 view right
 * after writing it through the Float32 one (or back): that store-to-load stalls on every element.
 */
// d, bits: [n] one chunk of δ (or of w·δ) and its Int32 view   base, out: [n]
import { countHigh } from './magnitude-select';

const f = Math.fround;

/** d[i] = table[words[i]] − base[i], then (when `hist` is given) |d| bits counted by their top 16 bits. */
export function deltaCountHigh(
  words: Uint16Array,
  table: Float32Array,
  base: Float32Array,
  d: Float32Array,
  bits: Int32Array,
  hist: Uint32Array | undefined,
): void {
  for (let i = 0; i < d.length; i++) d[i] = table[words[i]!]! - base[i]!;
  // A separate loop: reading bits[i] right after writing d[i] stalls on every element.
  if (hist) countHigh(bits, hist);
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

/** bits[i] ← bits[i] where the band keeps |x|, else +0, for i in [from, to). */
function maskRun(bits: Int32Array, band: RunBand, from: number, to: number): void {
  const { lo, span } = band;
  for (let i = from; i < to; i++) {
    const b = bits[i]!;
    bits[i] = b & -+(((b & 0x7fffffff) - lo) >>> 0 < span);
  }
}

/** d[i] ← f32(w · (kept ? d[i] : 0)) for i in [from, to): dropped elements zeroed, then scaled. */
export function weightBandRun(
  d: Float32Array,
  bits: Int32Array,
  band: RunBand,
  w: number,
  from: number,
  to: number,
): void {
  const wf = f(w);
  maskRun(bits, band, from, to);
  for (let i = from; i < to; i++) d[i] = wf * d[i]!;
}

/** The two task vectors of a TIES merge: δ chunks, their bit views, and weights. */
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
 * each agreement (1 where none agree, all 1 without normalize). One loop that only loads from d
 * and its bit view (no store-to-load); kept, sign and agreement are 0/1 factors.
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
  const [lo0, span0, lo1, span1] = [band0.lo, band0.span, band1.lo, band1.span];
  for (let i = from; i < to; i++) {
    const k0 = +(((b0[i]! & 0x7fffffff) - lo0) >>> 0 < span0);
    const k1 = +(((b1[i]! & 0x7fffffff) - lo1) >>> 0 < span1);
    // A dropped value is ±0 here where the reference has f32(w · +0): the sign of a zero never
    // reaches the result (it neither agrees nor changes the elected sign's "≥ 0").
    let x = f(w0 * (d0[i]! * k0));
    let y = f(w1 * (d1[i]! * k1));
    const finite = x - x + (y - y) === 0;
    if (!finite) {
      // ±∞ or NaN (δ · 0 is NaN for them): the reference's values, with branches.
      x = k0 ? f(w0 * d0[i]!) : f(w0 * 0);
      y = k1 ? f(w1 * d1[i]!) : f(w1 * 0);
    }
    // electSign's f32(f32(0 + x) + y) has the sign of the exact x + y (also for ±0, ±∞ and NaN).
    const pos = +(x + y >= 0);
    const neg = pos ^ 1;
    const a0 = (pos & +(x > 0)) | (neg & +(x < 0));
    const a1 = (pos & +(y > 0)) | (neg & +(y < 0));
    // The sum of the agreeing values: x·a + y·b is exact when both are finite (+0 turns −0 into
    // the reference's +0); an infinite or NaN value takes the reference's branches.
    const sum = finite ? f(x * a0 + y * a1) + 0 : agreeingSum(x, y, a0, a1);
    out[i] = f(base[i]! + f(lam * f(sum / divisors[a0 | (a1 << 1)]!)));
  }
}

/** disjointMean's sum of two values, as the reference adds them. */
function agreeingSum(x: number, y: number, a0: number, a1: number): number {
  let sum = 0;
  if (a0) sum = x;
  if (a1) sum = f(sum + y);
  return sum;
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
