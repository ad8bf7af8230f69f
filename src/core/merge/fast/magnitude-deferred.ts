/**
 * TIES on a one-chunk tensor without the selection's low-bit counting pass: the top-16-bit
 * histogram (counted as δ is computed) already names the bucket where the k-th largest |δ| lies;
 * the merge pass keeps that whole bucket provisionally and records its elements' indices (the
 * histogram says how many: a few per thousand), then the exact cut is found among those alone,
 * the ones it drops are zeroed, and only their outputs are merged again. The result is the
 * counted path's (magnitude-cuts.ts then maskBand) bit for bit: the same kept set, ties at the
 * cut kept lowest index first (the recorded indices are in index order).
 */
// bits: [n] Int32 view of δ_t (trimmed in place)   list: [hist[bucket]] indices in the bucket
import { type Cut, bitsOf } from './magnitude-cuts';
import { type BandState, BLOCK, type PairDivisors, type TiesPair, combinePair, maskBand } from './magnitude-kernels';
import { type BucketRank, INF_BITS, LOW_BUCKETS, exactOfRank } from './magnitude-select';

const LOW_SHIFT = 15;

/** A model's trim while its cut is known only to its high bucket. */
export interface DeferredBand {
  readonly high: BucketRank;
  /** Indices of the elements in the bucket, in index order; `count` filled so far. */
  readonly list: Int32Array;
  count: number;
}

/** A deferred band for rank `high`, the bucket holding `inBucket` counted elements. */
export function deferredBand(high: BucketRank, inBucket: number): DeferredBand {
  // One slot spare: the mask loop stores every index and advances only past the bucket's.
  return { high, list: new Int32Array(inBucket + 1), count: 0 };
}

/** bits[i] ← bits[i] where |x| is in the cut's bucket or above (NaNs dropped), else +0; records the bucket's indices. */
function maskProvisional(bits: Int32Array, band: DeferredBand, from: number, to: number): void {
  const bucket = band.high.bucket;
  const start = bucket << LOW_SHIFT;
  const list = band.list;
  let count = band.count;
  for (let i = from; i < to; i++) {
    const b = bits[i]!;
    const a = b & 0x7fffffff;
    const keep = +(a >= start) & +(a <= INF_BITS);
    bits[i] = b & -keep;
    // Branch-free: in bf16 a tenth of the elements can share the cut's bucket (quantized δ, ties).
    list[count] = i;
    count += +(a >>> LOW_SHIFT === bucket) & keep;
  }
  band.count = count;
}

/** The exact cut from the recorded elements; zeroes the ones it drops and returns their indices (in `list`). */
function resolve(bits: Int32Array, band: DeferredBand): { cut: Cut; dropped: Int32Array } {
  const { list, count } = band;
  const low = new Uint32Array(LOW_BUCKETS);
  for (let j = 0; j < count; j++) low[bits[list[j]!]! & (LOW_BUCKETS - 1)]!++;
  const exact = exactOfRank(band.high, low);
  const cut = { bits: exact.bits, ties: exact.tieRank === exact.ties ? Infinity : exact.tieRank };
  let nd = 0;
  let left = cut.ties;
  for (let j = 0; j < count; j++) {
    const i = list[j]!;
    const a = bits[i]! & 0x7fffffff;
    if (a > cut.bits || (a === cut.bits && left-- > 0)) continue;
    bits[i] = 0;
    list[nd++] = i; // nd ≤ j: overwrites only indices already visited
  }
  return { cut, dropped: list.subarray(0, nd) };
}

/**
 * out[i] merged again at the given indices: their inputs gathered block by block (as bits, so
 * every value is copied exactly), merged by the same loop as the main pass, scattered back.
 */
function remergeAt(
  p: TiesPair,
  divisors: PairDivisors,
  base: Float32Array,
  lambda: number,
  out: Float32Array,
  indices: Int32Array,
): void {
  const m = Math.min(BLOCK, indices.length);
  const [g0, g1, gBase, gOut] = [0, 1, 2, 3].map(() => new Float32Array(m)) as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const from = [p.b0, p.b1, bitsOf(base)];
  const to = [g0, g1, gBase].map(bitsOf);
  const [outBits, gOutBits] = [bitsOf(out), bitsOf(gOut)];
  const gathered = { ...p, d0: g0, b0: to[0]!, d1: g1, b1: to[1]! };
  for (let s = 0; s < indices.length; s += BLOCK) {
    const e = Math.min(indices.length, s + BLOCK);
    for (let k = 0; k < 3; k++) {
      const [src, dst] = [from[k]!, to[k]!];
      for (let j = s; j < e; j++) dst[j - s] = src[indices[j]!]!;
    }
    combinePair(gathered, divisors, gBase, lambda, gOut, 0, e - s);
    for (let j = s; j < e; j++) outBits[indices[j]!] = gOutBits[j - s]!;
  }
}

/** A model's trim in the deferred merge: counted cut, deferred cut, or none (kept whole). */
export type PairBand = BandState | DeferredBand | undefined;
const isDeferred = (b: PairBand): b is DeferredBand => b !== undefined && 'list' in b;

/**
 * out = θ₀ + λ · disjointMean(x, electSign(x)) for two models over a whole one-chunk tensor, as
 * tiesPair, with deferred bands resolved after the pass. Returns each deferred band's exact cut.
 */
export function tiesPairDeferred(
  p: TiesPair,
  bands: readonly [PairBand, PairBand],
  divisors: PairDivisors,
  base: Float32Array,
  lambda: number,
  out: Float32Array,
): (Cut | undefined)[] {
  const views = [p.b0, p.b1];
  const n = out.length;
  for (let s = 0; s < n; s += BLOCK) {
    const e = Math.min(n, s + BLOCK);
    bands.forEach((band, t) => {
      if (isDeferred(band)) maskProvisional(views[t]!, band, s, e);
      else if (band) maskBand(views[t]!, band, s, e);
    });
    combinePair(p, divisors, base, lambda, out, s, e);
  }
  const resolved = bands.map((band, t) => (isDeferred(band) ? resolve(views[t]!, band) : undefined));
  // Every output whose trim changed is merged again from the final trims.
  for (const r of resolved) if (r) remergeAt(p, divisors, base, lambda, out, r.dropped);
  return resolved.map((r) => r?.cut);
}
