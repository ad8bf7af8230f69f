/**
 * Exact magnitude selection over a whole tensor seen in chunks: a three-pass radix select on the
 * f32 bit pattern of |x| (11 + 11 + 9 bits). Each pass streams every chunk once through the
 * backend's histogram kernel, so the tensor never has to be in memory (or on the CPU) at once.
 *
 * `topKCut` turns the k-th largest value into an exact top-k set in the order (|x| descending,
 * index ascending): ties at the threshold are taken lowest index first, so exactly k elements are
 * chosen on every backend, whatever the chunking (mergekit keeps exactly int(density · numel)).
 */
import type { HistogramPass } from '../kernels/abs-histogram';
import type { TensorBackend } from './backend';

const PASSES: readonly { shift: number; width: number }[] = [
  { shift: 20, width: 11 },
  { shift: 9, width: 11 },
  { shift: 0, width: 9 },
];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function bitsToF32(bits: number): number {
  u32[0] = bits;
  return f32[0]!;
}

/** Calls `visit` once per chunk of the tensor (the caller owns the handles). */
export type ChunkVisitor<T> = (visit: (x: T) => Promise<void>) => Promise<void>;

/**
 * Calls `visit` with each chunk and its index, or with chunk `only` alone; chunk c holds elements
 * c·chunkElements … of the tensor.
 */
export type IndexedChunkVisitor<T> = (visit: (x: T, c: number) => Promise<void>, only?: number) => Promise<void>;

interface Selection {
  /** Bits of the k-th largest |x|. */
  readonly bits: number;
  /** Rank of the k-th element among those whose |x| equals it (1-based, index order). */
  readonly tieRank: number;
  /** Elements equal to it in each chunk, in chunk order. */
  readonly tiesPerChunk: readonly number[];
}

/** The radix select proper; undefined when there are fewer than k (≥ 1) non-NaN elements. */
async function radixSelect<T>(
  backend: TensorBackend<T>,
  chunks: IndexedChunkVisitor<T>,
  k: number,
): Promise<Selection | undefined> {
  let prefix = 0;
  let prefixShift = 31;
  let remaining = k; // rank still to find within the current prefix, counted from the top
  let perChunk: Uint32Array[] = [];
  for (const [p, { shift, width }] of PASSES.entries()) {
    const last = p === PASSES.length - 1;
    const counts = new Uint32Array(1 << width);
    const pass: HistogramPass = { prefix, prefixShift, shift, width };
    perChunk = [];
    await chunks(async (x) => {
      if (!last) return backend.absHistogram(x, pass, counts);
      // The last pass keeps each chunk's counts: where the ties at the threshold lie.
      const own = new Uint32Array(1 << width);
      await backend.absHistogram(x, pass, own);
      perChunk.push(own);
      own.forEach((v, b) => (counts[b]! += v));
    });
    let bucket = counts.length - 1;
    for (; bucket >= 0; bucket--) {
      if (remaining <= counts[bucket]!) break;
      remaining -= counts[bucket]!;
    }
    if (bucket < 0) return undefined;
    prefix = (prefix << width) | bucket;
    prefixShift = shift;
  }
  return { bits: prefix, tieRank: remaining, tiesPerChunk: perChunk.map((c) => c[prefix & 0x1ff]!) };
}

/**
 * The k-th largest |x| (1-based) among the non-NaN elements, or +∞ when k ≤ 0 (keep nothing)
 * and 0 when k exceeds the count (keep everything).
 */
export async function kthLargestAbs<T>(backend: TensorBackend<T>, chunks: ChunkVisitor<T>, k: number): Promise<number> {
  if (k <= 0) return Infinity;
  const s = await radixSelect(backend, (visit) => chunks((x) => visit(x, 0)), k);
  return s ? bitsToF32(s.bits) : 0;
}

/**
 * A top-k set in the order (|x| descending, index ascending): every element with |x| > `value`,
 * and those with |x| = `value` whose index in the tensor is below `tieEnd` (NaNs never).
 */
export interface RankCut {
  readonly value: number;
  readonly tieEnd: number;
}

/** No element. */
export const EMPTY_CUT: RankCut = { value: Infinity, tieEnd: 0 };
/** Every non-NaN element. */
export const FULL_CUT: RankCut = { value: 0, tieEnd: Infinity };

/** Whether element `index` with |x| = `abs` is in the cut (the CPU statement of the band kernels). */
export function inCut(cut: RankCut, abs: number, index: number): boolean {
  return abs > cut.value || (abs === cut.value && index < cut.tieEnd);
}

/**
 * The exact top-k cut of a tensor. When the ties at the threshold straddle the cut, the one chunk
 * where the k-th element lies is read back (as f32) to find its index.
 */
export async function topKCut<T>(
  backend: TensorBackend<T>,
  chunks: IndexedChunkVisitor<T>,
  chunkElements: number,
  k: number,
): Promise<RankCut> {
  if (k <= 0) return EMPTY_CUT;
  const s = await radixSelect(backend, chunks, k);
  if (!s) return FULL_CUT;
  const value = bitsToF32(s.bits);
  const ties = s.tiesPerChunk.reduce((a, b) => a + b, 0);
  if (s.tieRank === ties) return { value, tieEnd: Infinity };
  let c = 0;
  let before = 0;
  while (before + s.tiesPerChunk[c]! < s.tieRank) before += s.tiesPerChunk[c++]!;
  let tieEnd = NaN;
  await chunks(async (x) => {
    const bytes = await backend.store(x, 'F32');
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    const bits = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    let seen = before;
    for (let i = 0; i < bits.length; i++) {
      if ((bits[i]! & 0x7fffffff) === s.bits && ++seen === s.tieRank) {
        tieEnd = c * chunkElements + i + 1;
        return;
      }
    }
  }, c);
  if (Number.isNaN(tieEnd)) throw new Error(`topKCut: tie ${s.tieRank} not found in chunk ${c}`);
  return { value, tieEnd };
}
