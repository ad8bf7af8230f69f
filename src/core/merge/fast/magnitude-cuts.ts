/**
 * The exact top-k cuts of the fast magnitude merges, over task vectors seen chunk by chunk:
 * each query (a model, a rank k) is resolved by the two counting passes of magnitude-select.ts
 * (the first one fused into computing δ, see TaskVectorPass), then, when ties at the threshold
 * straddle the cut, by finding the index of the k-th element (one chunk scanned). A cut keeps,
 * in the order (|δ| descending, index ascending), exactly the top k, as select.ts's topKCut.
 */
import type { RunBand } from './magnitude-kernels';
import {
  type BucketRank,
  INF_BITS,
  LOW_BUCKETS,
  bucketOfRank,
  countLow,
  exactOfRank,
  lowOf,
  nthEqual,
} from './magnitude-select';

/** Selected elements: |x| bits above `bits`, or equal at a tensor index below `tieEnd`. */
export interface Cut {
  readonly bits: number;
  readonly tieEnd: number;
}
export const EMPTY_CUT: Cut = { bits: INF_BITS, tieEnd: 0 };
export const FULL_CUT: Cut = { bits: 0, tieEnd: Infinity };

/** A model's kept band: inside the `lo` cut and outside the `hi` one (breadcrumbs' dropped top). */
export interface Band {
  readonly lo: Cut;
  readonly hi: Cut;
}

export const bitsOf = (x: Float32Array) => new Int32Array(x.buffer, x.byteOffset, x.length);

/**
 * Visits the task vectors of some models (indices into the merge's models) chunk by chunk,
 * counting each one's top-16-bit histogram into `hists` (same order) when given.
 */
export type TaskVectorPass = (
  models: readonly number[],
  hists: readonly Uint32Array[] | undefined,
  visit?: (ds: readonly Float32Array[], c: number) => void,
) => Promise<void>;
/** Index in chunk c of model `model`'s task vector where `find` points (−1: nowhere). */
export type Locate = (model: number, c: number, find: (bits: Int32Array) => number) => Promise<number>;

/** One top-k selection over model `model`'s task vector (rank ≤ 0: keep nothing). */
export interface Query {
  readonly model: number;
  readonly rank: number;
  cut?: Cut;
}

interface Open {
  readonly query: Query;
  readonly high: BucketRank;
  readonly low: Uint32Array;
  /** Multi-chunk tensors: each chunk's low histogram, to find the chunk of a straddling tie. */
  readonly perChunk: Uint32Array[];
}

/** Resolves every query to its exact cut. */
export async function selectCuts(
  queries: readonly Query[],
  pass: TaskVectorPass,
  locate: Locate,
  chunkElements: number,
): Promise<void> {
  for (const q of queries) if (q.rank <= 0) q.cut = EMPTY_CUT;
  const counted = [...new Set(queries.filter((q) => !q.cut).map((q) => q.model))];
  if (counted.length === 0) return;
  const hists = counted.map(() => new Uint32Array(1 << 16));
  await pass(counted, hists);
  const open: Open[] = [];
  for (const query of queries) {
    if (query.cut) continue;
    const high = bucketOfRank(hists[counted.indexOf(query.model)]!, query.rank);
    if (!high) query.cut = FULL_CUT;
    else open.push({ query, high, low: new Uint32Array(LOW_BUCKETS), perChunk: [] });
  }
  if (open.length === 0) return;
  const lowModels = [...new Set(open.map((o) => o.query.model))];
  let chunks = 0;
  await pass(lowModels, undefined, (ds) => {
    chunks++;
    for (const o of open) {
      const own = new Uint32Array(LOW_BUCKETS);
      countLow(bitsOf(ds[lowModels.indexOf(o.query.model)]!), o.high.bucket, own);
      o.perChunk.push(own);
      for (let b = 0; b < LOW_BUCKETS; b++) o.low[b]! += own[b]!;
    }
  });
  for (const o of open) {
    const exact = exactOfRank(o.high, o.low);
    if (exact.tieRank === exact.ties) {
      o.query.cut = { bits: exact.bits, tieEnd: Infinity };
      continue;
    }
    // The ties at the threshold straddle the cut: find the index of the last one kept.
    const at = lowOf(exact.bits);
    let c = 0;
    let before = 0;
    while (c < chunks - 1 && before + o.perChunk[c]![at]! < exact.tieRank) before += o.perChunk[c++]![at]!;
    const i = await locate(o.query.model, c, (bits) => nthEqual(bits, exact.bits, exact.tieRank - before));
    if (i < 0) throw new Error(`fast magnitude select: tie ${exact.tieRank} not found in chunk ${c}`);
    o.query.cut = { bits: exact.bits, tieEnd: c * chunkElements + i + 1 };
  }
}

/** The chunk-local indices in [0, n) where a band's tie bounds fall (offset: the chunk's first index). */
export function bandSplits(band: Band, offset: number, n: number): number[] {
  const at = (end: number) => Math.min(Math.max(end - offset, 0), n);
  return [at(band.lo.tieEnd), at(band.hi.tieEnd)];
}

/** The band over a run of indices starting at tensor index `index` (no run crosses a split). */
export function runBand(band: Band, index: number): RunBand {
  const lo = band.lo.bits + (index < band.lo.tieEnd ? 0 : 1);
  const hi = band.hi.bits + (index < band.hi.tieEnd ? 0 : 1);
  return { lo, span: Math.max(0, hi - lo) };
}
