/** Counter-based random numbers shared bit-for-bit with shaders/rng.wgsl (lowbias32 hash). */

export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A u32 for element `index` of stream `stream` under `seed`: two keyed hash rounds. */
export function randomU32(seed: number, stream: number, index: number): number {
  const k1 = lowbias32((seed ^ lowbias32(stream)) >>> 0);
  const k2 = lowbias32((k1 ^ 0x9e3779b9) >>> 0);
  return lowbias32((lowbias32((index ^ k1) >>> 0) ^ k2) >>> 0);
}

/** Keep when (randomU32 >>> 8) < this: density quantised to 2^-24. */
export function daresKeepThreshold(density: number): number {
  return Math.round(Math.min(1, Math.max(0, density)) * 16777216);
}

/** FNV-1a of a string: the per-tensor stream id, independent of tensor order. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
