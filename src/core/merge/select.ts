/**
 * Exact k-th largest |x| over a whole tensor seen in chunks: a three-pass radix select on the
 * f32 bit pattern (11 + 11 + 9 bits). Each pass streams every chunk once through the backend's
 * histogram kernel, so the tensor never has to be in memory (or on the CPU) at once.
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
 * The k-th largest |x| (1-based) among the non-NaN elements, or +∞ when k ≤ 0 (keep nothing)
 * and 0 when k exceeds the count (keep everything).
 */
export async function kthLargestAbs<T>(backend: TensorBackend<T>, chunks: ChunkVisitor<T>, k: number): Promise<number> {
  if (k <= 0) return Infinity;
  let prefix = 0;
  let prefixShift = 31;
  let remaining = k; // rank still to find within the current prefix, counted from the top
  for (const { shift, width } of PASSES) {
    const counts = new Uint32Array(1 << width);
    const pass: HistogramPass = { prefix, prefixShift, shift, width };
    await chunks((x) => backend.absHistogram(x, pass, counts));
    let bucket = counts.length - 1;
    for (; bucket >= 0; bucket--) {
      if (remaining <= counts[bucket]!) break;
      remaining -= counts[bucket]!;
    }
    if (bucket < 0) return 0; // fewer than k elements
    prefix = (prefix << width) | bucket;
    prefixShift = shift;
  }
  return bitsToF32(prefix);
}
