/**
 * Seeded standard-normal matrices for the randomized SVD sketch. Counter-based (the project's
 * lowbias32 hash, src/core/kernels/rng.ts), so a sketch depends only on (seed, stream, index):
 * the same on every backend and in every order.
 */
import { randomU32 } from '../kernels/rng';

/** n values ~ N(0, scale²), Box–Muller on pairs of 24-bit uniforms in (0, 1). */
export function gaussian(n: number, seed: number, stream: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = ((randomU32(seed, stream, i) >>> 8) + 0.5) / 16777216;
    const u2 = ((randomU32(seed, stream, i + 1) >>> 8) + 0.5) / 16777216;
    const r = Math.sqrt(-2 * Math.log(u1)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
