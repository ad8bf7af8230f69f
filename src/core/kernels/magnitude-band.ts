/** CPU twin of shaders/magnitude-band.wgsl: keep x where lo ≤ |x| < hi, else 0 (TIES: hi = +∞). */
import { defineElementwise } from './elementwise';

// x: [n]   out: [n]
export function magnitudeBand(x: Float32Array, lo: number, hi: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a >= lo && a < hi) out[i] = x[i]!;
  }
  return out;
}

export interface MagnitudeBandParams {
  readonly lo: number;
  readonly hi: number;
}

/** The magnitude band as an element-wise kernel (TensorBackend.elementwise). */
export const MAGNITUDE_BAND = defineElementwise({
  name: 'magnitude-band',
  inputs: ['x'],
  cpu: ([x], p: MagnitudeBandParams) => magnitudeBand(x, p.lo, p.hi),
});
