/**
 * CPU twin of shaders/magnitude-band.wgsl: keep x where lo ≤ |x| < hi, else 0 (TIES: hi = +∞),
 * with ties at either bound split by tensor index. In the order (|x| descending, index ascending),
 * the elements with |x| > lo and those with |x| = lo at an index below `loEnd` are the top k of
 * src/core/merge/select.ts's `topKCut`; likewise `hi`/`hiEnd` name the top elements dropped
 * (breadcrumbs). Without the bounds every tie counts: keep exactly lo ≤ |x| < hi. Compared on f32
 * bit patterns, as the shader does; NaNs are dropped.
 */
import { defineElementwise } from './elementwise';

export interface MagnitudeBandParams {
  readonly lo: number;
  readonly hi: number;
  /** Elements with |x| = lo are kept only below this tensor index (default: all). */
  readonly loEnd?: number;
  /** Elements with |x| = hi are dropped only below this tensor index (default: all). */
  readonly hiEnd?: number;
  /** Tensor index of the chunk's first element (default 0). */
  readonly offset?: number;
}

/** A tie bound as the kernels compare it: a u32 index (2^32 − 1 and above: every tie). */
export function tieBound(end: number | undefined): number {
  return end === undefined ? 0xffffffff : Math.min(Math.max(end, 0), 0xffffffff);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function absBits(v: number): number {
  f32[0] = v;
  return u32[0]! & 0x7fffffff;
}

// x: [n] (elements offset … offset+n−1 of the tensor)   out: [n]
export function magnitudeBand(
  x: Float32Array,
  lo: number,
  hi: number,
  loEnd?: number,
  hiEnd?: number,
  offset = 0,
): Float32Array {
  const out = new Float32Array(x.length);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const [l, h, le, he] = [absBits(lo), absBits(hi), tieBound(loEnd), tieBound(hiEnd)];
  for (let i = 0; i < x.length; i++) {
    const a = bits[i]! & 0x7fffffff;
    if (a > 0x7f800000) continue;
    const idx = (offset + i) >>> 0;
    const inLo = a > l || (a === l && idx < le);
    const inHi = a > h || (a === h && idx < he);
    if (inLo && !inHi) out[i] = x[i]!;
  }
  return out;
}

/** The magnitude band as an element-wise kernel (TensorBackend.elementwise). */
export const MAGNITUDE_BAND = defineElementwise({
  name: 'magnitude-band',
  inputs: ['x'],
  cpu: ([x], p: MagnitudeBandParams) => magnitudeBand(x, p.lo, p.hi, p.loEnd, p.hiEnd, p.offset),
});
