/**
 * CPU twin of shaders/bernoulli-mask.wgsl: DARE's hashed Bernoulli mask with a keep probability of
 * its own per element (DELLA's MagPrune). Element i is kept when
 * (randomU32(seed, stream, offset + i) >>> 8) < keep[i], where keep[i] is the probability in units
 * of 2^-24 (an integer in [0, 2^24], exact in f32). The draws are DARE's, so the mask is identical
 * whatever the chunking, backend or order of work.
 */
import { defineElementwise } from './elementwise';
import { randomU32 } from './rng';

// x: [n]   keep: [n] (integers 0 … 2^24)   out: [n] (elements offset … offset+n−1 of the tensor)
export function bernoulliMask(x: Float32Array, keep: Float32Array, seed: number, stream: number, offset: number) {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) if (randomU32(seed, stream, (offset + i) >>> 0) >>> 8 < keep[i]!) out[i] = x[i]!;
  return out;
}

/** The hash's seed and stream and the chunk's first element. */
export interface BernoulliMaskParams {
  readonly seed: number;
  readonly stream: number;
  readonly offset: number;
}

/** The per-element Bernoulli mask as an element-wise kernel (TensorBackend.elementwise). */
export const BERNOULLI_MASK = defineElementwise({
  name: 'bernoulli-mask',
  inputs: ['x', 'keep'],
  cpu: ([x, keep], p: BernoulliMaskParams) => bernoulliMask(x, keep, p.seed, p.stream, p.offset),
});
