/**
 * The kernels of the fast magnitude merges (TIES, breadcrumbs): the task vector and the selection's
 * first histogram; the merge pass as trim (an integer mask loop) then, for two models, weight, sign
 * election, disjoint mean and θ₀ + λ·m in one float loop, block by block so both run in L1.
 * Same f32 arithmetic, in the same order, as the reference chain delta → magnitudeBand →
 * weightedSum([x], [w]) → electSign → disjointMean → weightedSum([θ₀, m], [1, λ]) (src/core/kernels),
 * so the merged bits are identical. Kept or not, agreeing or not, are random per element: they are
 * 0/1 integers used as masks and factors, never branched on (a mispredicted branch per element
 * costs more than the arithmetic). A loop never reads an element through the Int32 view right
 * after writing it through the Float32 one (or back): that store-to-load stalls on every element.
 */
// d, bits: [n] one chunk of δ (or of w·δ) and its Int32 view   base, out: [n]
import type { DecodeTable } from './codec';
import { type BandState, BLOCK, maskBand } from './magnitude-band';
import { countHigh } from './magnitude-select';
import type { SimdKernels, TiesPairArgs } from './simd/simd-kernels';

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
 * d[i] = table[words[i]] − θ₀[i] with θ₀ decoded in the same loop from its own words: θ₀'s values
 * are written to `base` (bits copied from the table, exactly as decodeWords) for the later steps.
 */
export function deltaDecodingBase(
  words: Uint16Array,
  table: Float32Array,
  baseWords: Uint16Array,
  baseTable: DecodeTable,
  base: Float32Array,
  d: Float32Array,
): void {
  const baseBits = new Int32Array(base.buffer, base.byteOffset, base.length);
  const { values, bits } = baseTable;
  for (let i = 0; i < d.length; i++) {
    const w = baseWords[i]!;
    baseBits[i] = bits[w]!;
    d[i] = table[words[i]!]! - values[w]!;
  }
}

/** d[i] ← f32(w · (kept ? d[i] : 0)) for i in [from, to) (no band: every element kept, NaNs too). */
export function weightBand(
  d: Float32Array,
  bits: Int32Array,
  band: BandState | undefined,
  w: number,
  from: number,
  to: number,
): void {
  const wf = f(w);
  if (band) maskBand(bits, band, from, to);
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
  /** The wasm SIMD kernels, where the backend has them: the merge arithmetic runs there. */
  readonly simd?: SimdKernels | undefined;
}

/**
 * The disjoint mean's divisor for each agreement `agree0 | agree1 << 1` (1 where none agree, all 1
 * without normalize), and their reciprocals when every divisor is a power of two: then sum · (1/d)
 * is the same real number as sum / d, so rounds to the same bits, and a multiply is much cheaper.
 */
export interface PairDivisors {
  readonly divisors: Float64Array;
  readonly reciprocals: Float64Array | undefined;
}

/**
 * out = θ₀ + λ · disjointMean(x, electSign(x)) over [from, to) for two models, where
 * x_t = f32(w_t · band_t(δ_t)) (no band: δ_t kept whole). Block by block: the trim as an integer
 * mask loop per model (dropped values become +0, as the reference's), then one float loop
 * (measured: twice as fast as one loop that multiplies by the 0/1 keep factors). Without SIMD it
 * overwrites d0, d1 (with SIMD both steps run on the kernels' copy of the block).
 */
export function tiesPair(
  p: TiesPair,
  band0: BandState | undefined,
  band1: BandState | undefined,
  divisors: PairDivisors,
  base: Float32Array,
  lambda: number,
  out: Float32Array,
  from: number,
  to: number,
): void {
  if (p.simd) return p.simd.tiesPair(simdArgs(p, divisors, base, lambda), out, from, to, [band0, band1]);
  for (let s = from; s < to; s += BLOCK) {
    const e = Math.min(to, s + BLOCK);
    if (band0) maskBand(p.b0, band0, s, e);
    if (band1) maskBand(p.b1, band1, s, e);
    combinePair(p, divisors, base, lambda, out, s, e);
  }
}

/** tiesPair's arithmetic on trimmed δ over [from, to): out only (d0, d1 are read). */
export function combinePair(
  p: TiesPair,
  divisors: PairDivisors,
  base: Float32Array,
  lambda: number,
  out: Float32Array,
  from: number,
  to: number,
): void {
  if (p.simd) return p.simd.tiesPair(simdArgs(p, divisors, base, lambda), out, from, to);
  const { scales, multiply } = divisorScales(divisors);
  combineScaled(p.d0, p.d1, f(p.w0), f(p.w1), scales, multiply, base, f(lambda), out, from, to);
}

/** A pair's arguments as the SIMD kernels take them. */
function simdArgs(p: TiesPair, divisors: PairDivisors, base: Float32Array, lambda: number): TiesPairArgs {
  return { ...p, ...divisorScales(divisors), base, lambda };
}

/** The scales the merge loops apply: the reciprocals (multiplied by) where every divisor is a power of two, else the divisors. */
export function divisorScales(d: PairDivisors): { scales: Float64Array; multiply: boolean } {
  return { scales: d.reciprocals ?? d.divisors, multiply: d.reciprocals !== undefined };
}

/** combinePair's loop: agreement as 0/1 integers, so nothing branches on data; `multiply`: scales are reciprocals. */
function combineScaled(
  d0: Float32Array,
  d1: Float32Array,
  w0: number,
  w1: number,
  scales: Float64Array,
  multiply: boolean,
  base: Float32Array,
  lam: number,
  out: Float32Array,
  from: number,
  to: number,
): void {
  for (let i = from; i < to; i++) {
    const x = f(w0 * d0[i]!);
    const y = f(w1 * d1[i]!);
    // electSign's f32(f32(0 + x) + y) has the sign of the exact x + y (also for ±0, ±∞ and NaN).
    const pos = +(x + y >= 0);
    const neg = pos ^ 1;
    const a0 = (pos & +(x > 0)) | (neg & +(x < 0));
    const a1 = (pos & +(y > 0)) | (neg & +(y < 0));
    // The sum of the agreeing values: x·a + y·b is exact when both are finite (+0 turns −0 into
    // the reference's +0); it is NaN exactly when an infinite or NaN value is not agreeing (∞·0),
    // or a NaN is: then the reference's branches.
    let sum = f(x * a0 + y * a1) + 0;
    if (sum !== sum) sum = agreeingSum(x, y, a0, a1);
    const scale = scales[a0 | (a1 << 1)]!;
    out[i] = f(base[i]! + f(lam * f(multiply ? sum * scale : sum / scale)));
  }
}

/** disjointMean's sum of two values, as the reference adds them. */
function agreeingSum(x: number, y: number, a0: number, a1: number): number {
  let sum = 0;
  if (a0) sum = x;
  if (a1) sum = f(sum + y);
  return sum;
}

/** The divisors tiesPair picks from: Σ of the agreeing weights in f32 (1 for none), or all 1. */
export function pairDivisors(w0: number, w1: number, normalize: boolean): PairDivisors {
  const nonzero = (v: number) => (v === 0 ? 1 : v);
  const ds = normalize ? [1, nonzero(f(w0)), nonzero(f(w1)), nonzero(f(f(w0) + f(w1)))] : [1, 1, 1, 1];
  const divisors = new Float64Array(ds);
  return { divisors, reciprocals: ds.every(isPowerOfTwo) ? new Float64Array(ds.map((d) => 1 / d)) : undefined };
}

/** ±2^k for a finite f32 (its mantissa bits all zero, a normal exponent): 1/x is then exact. */
function isPowerOfTwo(x: number): boolean {
  const bits = new Int32Array(new Float32Array([x]).buffer)[0]! & 0x7fffffff;
  return (bits & 0x7fffff) === 0 && bits >= 0x00800000 && bits < 0x7f000000;
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
