/**
 * Exact top-k magnitude selection for the fast CPU backend, on the f32 bit patterns of |δ|
 * (sign cleared, they order like unsigned integers; NaNs, above 0x7f800000, are never counted):
 *   one counting pass over the top 16 of the 31 bits finds the bucket where the k-th largest lies;
 *   one pass over that bucket's elements only counts its low 15 bits, giving the exact value;
 *   ties at that value are taken lowest index first (the reference's select.ts order), so the
 *   cut keeps exactly k elements. magnitude-cuts.ts runs these over a tensor's chunks.
 */
// bits: [n] Int32 view of a chunk of δ (f32)   hist: [2^16]   low: [2^15]

export const HIGH_BUCKETS = 1 << 16;
export const LOW_BUCKETS = 1 << 15;
const LOW_SHIFT = 15;
/** |x| bits of +∞; anything above is a NaN. */
export const INF_BITS = 0x7f800000;

/** A second histogram for countHigh's odd elements, all zero between calls. */
const oddCounts = new Uint32Array(HIGH_BUCKETS);

/**
 * Counts |x| bits by their top 16 bits (NaNs skipped). Long arrays are counted into two
 * histograms, even and odd elements, added up at the end: quantized δ (bf16) puts runs of
 * elements in one bucket, and one histogram makes each count wait for the previous store
 * (measured: half the time).
 */
export function countHigh(bits: Int32Array, hist: Uint32Array): void {
  const n = bits.length;
  if (n < HIGH_BUCKETS) {
    for (let i = 0; i < n; i++) {
      const a = bits[i]! & 0x7fffffff;
      hist[a >>> LOW_SHIFT]! += +(a <= INF_BITS);
    }
    return;
  }
  const odd = oddCounts;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const a = bits[i]! & 0x7fffffff;
    const b = bits[i + 1]! & 0x7fffffff;
    hist[a >>> LOW_SHIFT]! += +(a <= INF_BITS);
    odd[b >>> LOW_SHIFT]! += +(b <= INF_BITS);
  }
  if (i < n) {
    const a = bits[i]! & 0x7fffffff;
    hist[a >>> LOW_SHIFT]! += +(a <= INF_BITS);
  }
  for (let k = 0; k < HIGH_BUCKETS; k++) hist[k]! += odd[k]!;
  odd.fill(0);
}

/** Where rank `k` (1-based, from the largest) falls in a histogram: its bucket and its rank inside it. */
export interface BucketRank {
  readonly bucket: number;
  readonly rank: number;
}

/** The bucket holding the k-th largest element, or undefined when there are fewer than k. */
export function bucketOfRank(hist: Uint32Array, k: number): BucketRank | undefined {
  let remaining = k;
  for (let b = hist.length - 1; b >= 0; b--) {
    const n = hist[b]!;
    if (remaining <= n) return { bucket: b, rank: remaining };
    remaining -= n;
  }
  return undefined;
}

/** The exact bits of the k-th largest: the high bucket's rank resolved in its low histogram. */
export function exactOfRank(high: BucketRank, low: Uint32Array): { bits: number; tieRank: number; ties: number } {
  const inLow = bucketOfRank(low, high.rank)!;
  return { bits: (high.bucket << LOW_SHIFT) | inLow.bucket, tieRank: inLow.rank, ties: low[inLow.bucket]! };
}

/** Index (in `bits`) of the rank-th element (1-based) whose |x| bits equal `target` (−1: fewer), and how many were seen. */
export function nthEqual(bits: Int32Array, target: number, rank: number): { index: number; seen: number } {
  let seen = 0;
  for (let i = 0; i < bits.length; i++)
    if ((bits[i]! & 0x7fffffff) === target && ++seen === rank) return { index: i, seen };
  return { index: -1, seen };
}
