/**
 * The exact top-k cuts of the fast magnitude merges, over task vectors seen chunk by chunk, in
 * one pass when the data allow (magnitude-select.ts counts on |δ| bit patterns):
 *   the pass counts each model's top-16-bit histogram as δ is computed (TaskVectorPass); after the
 *   first chunk it guesses, per query, the bucket where rank k falls (k scaled to that chunk) and
 *   from then on also counts the low 15 bits of every element in a window of buckets around the
 *   guess, that first chunk included. When the whole-tensor bucket is inside the window (always
 *   for a one-chunk tensor, and for a tensor whose chunks look alike), the cut is exact at the end
 *   of the pass; otherwise a second pass counts that bucket alone.
 * Ties at the threshold are kept lowest index first: a cut says how many, and the merge pass counts
 * them off as it walks the chunks in order (magnitude-kernels.ts's maskBand). So a cut keeps, in
 * the order (|δ| descending, index ascending), exactly the top k, as select.ts's topKCut.
 */
import { type BucketRank, HIGH_BUCKETS, INF_BITS, LOW_BUCKETS, bucketOfRank, exactOfRank } from './magnitude-select';

/** Selected elements: |x| bits above `bits`, and the first `ties` (in index order) equal to it. */
export interface Cut {
  readonly bits: number;
  readonly ties: number;
}
export const EMPTY_CUT: Cut = { bits: INF_BITS, ties: 0 };
export const FULL_CUT: Cut = { bits: 0, ties: Infinity };

/** A model's kept band: inside the `lo` cut and outside the `hi` one (breadcrumbs' dropped top). */
export interface Band {
  readonly lo: Cut;
  readonly hi: Cut;
}

export const bitsOf = (x: Float32Array) => new Int32Array(x.buffer, x.byteOffset, x.length);

/**
 * Visits the task vectors of some models (indices into the merge's models) chunk by chunk, in
 * order, after counting each one's top-16-bit histogram into `hists` (same order) when given.
 */
export type TaskVectorPass = (
  models: readonly number[],
  hists: readonly Uint32Array[] | undefined,
  visit: (ds: readonly Float32Array[], c: number) => void,
) => Promise<void>;

/** One top-k selection over model `model`'s task vector (rank ≤ 0: keep nothing). */
export interface Query {
  readonly model: number;
  readonly rank: number;
  cut?: Cut;
}

/** Buckets counted on each side of a guessed one (a guess from part of the tensor: its first chunk, or a sample). */
const WINDOW = 2;

/** A query's low-bit counts over a window of high buckets [first, first + count). */
interface Window {
  readonly query: Query;
  readonly first: number;
  readonly count: number;
  readonly low: Uint32Array;
}

/** Counts into a window the low bits of the elements whose high bucket falls in it. */
export function countWindow(bits: Int32Array, first: number, count: number, low: Uint32Array): void {
  for (let i = 0; i < bits.length; i++) {
    const a = bits[i]! & 0x7fffffff;
    const slot = (a >>> 15) - first;
    // One unsigned compare: a bucket below the window wraps to a large slot.
    if (slot >>> 0 < count) low[(slot << 15) | (a & 0x7fff)]! += +(a <= INF_BITS);
  }
}

/** The cut at the k-th largest's bits, k being the `tieRank`-th of its `ties` equals (all of them: no count). */
export const cutAt = (bits: number, tieRank: number, ties: number): Cut => ({
  bits,
  ties: tieRank === ties ? Infinity : tieRank,
});

/** The cut of rank `high` once its bucket's low histogram is known. */
export function exactCut(high: BucketRank, low: Uint32Array): Cut {
  const exact = exactOfRank(high, low);
  return cutAt(exact.bits, exact.tieRank, exact.ties);
}

/** The window count's loop: countWindow here, or the SIMD kernels' twin (simd/simd-kernels.ts). */
export interface WindowCounter {
  countWindow(bits: Int32Array, first: number, count: number, low: Uint32Array): void;
}
const SCALAR_COUNTER: WindowCounter = { countWindow };

/** Resolves every query to its exact cut; `numel`: elements of the tensor. */
export async function selectCuts(
  queries: readonly Query[],
  pass: TaskVectorPass,
  numel: number,
  counter: WindowCounter = SCALAR_COUNTER,
): Promise<void> {
  for (const q of queries) if (q.rank <= 0) q.cut = EMPTY_CUT;
  const open = queries.filter((q) => !q.cut);
  const counted = [...new Set(open.map((q) => q.model))];
  if (counted.length === 0) return;
  const hists = counted.map(() => new Uint32Array(HIGH_BUCKETS));
  let windows: Window[] | undefined;
  await pass(counted, hists, (ds) => {
    windows ??= open.map((query) => guessWindow(query, hists[counted.indexOf(query.model)]!, ds[0]!.length, numel));
    for (const w of windows) counter.countWindow(bitsOf(ds[counted.indexOf(w.query.model)]!), w.first, w.count, w.low);
  });
  const missed: { query: Query; high: BucketRank; low: Uint32Array }[] = [];
  for (const [j, query] of open.entries()) {
    const high = bucketOfRank(hists[counted.indexOf(query.model)]!, query.rank);
    const w = windows![j]!;
    if (!high) query.cut = FULL_CUT;
    else if (high.bucket >= w.first && high.bucket < w.first + w.count) {
      const slot = high.bucket - w.first;
      query.cut = exactCut(high, w.low.subarray(slot * LOW_BUCKETS, (slot + 1) * LOW_BUCKETS));
    } else missed.push({ query, high, low: new Uint32Array(LOW_BUCKETS) });
  }
  if (missed.length === 0) return;
  // The guess missed (chunks unlike the first): count the right bucket in a second pass.
  const models = [...new Set(missed.map((m) => m.query.model))];
  await pass(models, undefined, (ds) => {
    for (const m of missed) counter.countWindow(bitsOf(ds[models.indexOf(m.query.model)]!), m.high.bucket, 1, m.low);
  });
  for (const m of missed) m.query.cut = exactCut(m.high, m.low);
}

/** The window around the bucket where a query's rank, scaled to the first chunk, falls in it. */
function guessWindow(query: Query, firstChunk: Uint32Array, chunkElements: number, numel: number): Window {
  const whole = chunkElements >= numel;
  const guess = bucketOfRank(firstChunk, Math.max(1, Math.round((query.rank * chunkElements) / numel)));
  const { first, count } = windowAround(guess?.bucket ?? 0, whole ? 0 : WINDOW);
  return { query, first, count, low: new Uint32Array(count * LOW_BUCKETS) };
}

/** High buckets [first, first + count): `side` on each side of `centre`, inside the histogram (count ≤ 2·side + 1). */
export function windowAround(centre: number, side = WINDOW): { first: number; count: number } {
  const first = Math.max(0, centre - side);
  return { first, count: Math.min(HIGH_BUCKETS, centre + side + 1) - first };
}
