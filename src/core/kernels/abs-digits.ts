/**
 * CPU twin of shaders/abs-digits.wgsl: one 16-bit digit of |x| in fixed point, for exact L1 norms.
 * out[i] = ⌊|x_i| / 2^low⌋ mod 2^16, an integer (exact in f32). Summed with `dot` against ones,
 * 256-element blocks of such digits stay below 2^24, so every partial sum is exact and the norm
 * Σ_k 2^low_k · Σ_i digit_k(x_i) is the same whatever the chunking, order or backend. Computed on
 * the f32 bits: |x| = M · 2^(max(E, 1) − 150) with E the exponent field and M the 24-bit mantissa.
 * NaNs give 0.
 */
import { defineElementwise } from './elementwise';

export interface AbsDigitsParams {
  /** Bit position (power of two) of the digit's lowest bit. */
  readonly low: number;
}

// x: [n]   out: [n] integers in [0, 65535]
export function absDigits(x: Float32Array, low: number): Float32Array {
  const out = new Float32Array(x.length);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < x.length; i++) {
    const a = bits[i]! & 0x7fffffff;
    if (a > 0x7f800000) continue;
    const e = a >>> 23;
    const m = (a & 0x7fffff) | (e > 0 ? 0x800000 : 0);
    const sh = Math.max(e, 1) - 150 - low;
    if (sh >= 32 || sh <= -32) continue;
    out[i] = (sh >= 0 ? (m << sh) >>> 0 : m >>> -sh) & 0xffff;
  }
  return out;
}

/** The digit extraction as an element-wise kernel (TensorBackend.elementwise). */
export const ABS_DIGITS = defineElementwise({
  name: 'abs-digits',
  inputs: ['x'],
  cpu: ([x], p: AbsDigitsParams) => absDigits(x, p.low),
});
