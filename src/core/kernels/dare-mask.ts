/**
 * CPU twin of shaders/dare-mask.wgsl. DARE keeps each element with probability `density` and, with
 * `rescale`, divides kept ones by density (the DARE paper's rescale; the merge passes false and
 * applies mergekit's L1 rescale instead, src/core/merge/methods/sparsify.ts). The mask is a
 * counter-based hash of (seed, stream, global element index), so it is identical whatever the
 * chunking, backend or order of work.
 */
import { defineElementwise } from './elementwise';
import { daresKeepThreshold, randomU32 } from './rng';

// x: [n] (elements offset … offset+n−1 of the tensor)   out: [n]
export function dareMask(
  x: Float32Array,
  density: number,
  seed: number,
  stream: number,
  offset: number,
  rescale: boolean,
): Float32Array {
  const out = new Float32Array(x.length);
  const keep = daresKeepThreshold(density);
  const scale = Math.fround(density);
  for (let i = 0; i < x.length; i++) {
    if (randomU32(seed, stream, offset + i) >>> 8 < keep) out[i] = rescale ? x[i]! / scale : x[i]!;
  }
  return out;
}

/** DARE's parameters: keep probability, the hash's seed and stream, the chunk's first element. */
export interface DareMaskParams {
  readonly density: number;
  readonly seed: number;
  readonly stream: number;
  readonly offset: number;
  /** Divide kept elements by density. */
  readonly rescale: boolean;
}

/** The DARE mask as an element-wise kernel (TensorBackend.elementwise). */
export const DARE_MASK = defineElementwise({
  name: 'dare-mask',
  inputs: ['x'],
  cpu: ([x], p: DareMaskParams) => dareMask(x, p.density, p.seed, p.stream, p.offset, p.rescale),
});
