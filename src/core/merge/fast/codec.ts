/**
 * Fast storage ↔ f32 conversions for the fast CPU backend, bit-identical to src/core/dtype.ts
 * (the spec): f16/bf16 → f32 through 65,536-entry tables (f16's built by f16BitsToF32, bf16's by
 * the shift), which kernels can also read values from directly (fused decode); f32 → bf16/f16 with
 * round-to-nearest-even done in integer arithmetic on the bit pattern. Loops work on Int32 views
 * so values stay small integers for the JIT; no per-element calls.
 */
import { type DType, f16BitsToF32, itemSize } from '../../dtype';

/** Every 16-bit pattern's f32 value, as values and as bit patterns (the same memory). */
export interface DecodeTable {
  readonly values: Float32Array;
  readonly bits: Int32Array;
}

const tables = new Map<DType, DecodeTable>();

/** The table of a 16-bit dtype, made once (f16 by the reference conversion, so NaNs and −0 match it exactly). */
export function decodeTable(dtype: 'F16' | 'BF16'): DecodeTable {
  let t = tables.get(dtype);
  if (!t) {
    const values = new Float32Array(65536);
    const bits = new Int32Array(values.buffer);
    for (let h = 0; h < 65536; h++) {
      if (dtype === 'BF16') bits[h] = h << 16;
      else values[h] = f16BitsToF32(h);
    }
    tables.set(dtype, (t = { values, bits }));
  }
  return t;
}

/** Decodes 16-bit words into `out` through a table, bit for bit. */
export function decodeWords(words: Uint16Array, table: DecodeTable, out: Float32Array): void {
  const o32 = new Int32Array(out.buffer, out.byteOffset, words.length);
  const bits = table.bits;
  for (let i = 0; i < words.length; i++) o32[i] = bits[words[i]!]!;
}

/** The bytes as 16-bit words: a view when aligned, else a copy. */
export function words16(bytes: Uint8Array, n: number): Uint16Array {
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const u16 = new Uint16Array(n);
  new Uint8Array(u16.buffer).set(bytes.subarray(0, n * 2));
  return u16;
}

/** Decodes storage bytes into `out` (length = element count). */
export function decodeInto(bytes: Uint8Array, dtype: DType, out: Float32Array): void {
  const n = bytes.byteLength / itemSize(dtype);
  if (dtype === 'F32') {
    new Uint8Array(out.buffer, out.byteOffset, n * 4).set(bytes);
    return;
  }
  const src = words16(bytes, n);
  if (dtype === 'BF16') {
    const o32 = new Int32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) o32[i] = src[i]! << 16;
    return;
  }
  decodeWords(src, decodeTable(dtype), out);
}

/** f32 values → bf16 words, as f32ToBf16Bits. */
function encodeBf16(bits: Int32Array, out: Uint16Array): void {
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    out[i] =
      (b & 0x7fffffff) > 0x7f800000
        ? (b >>> 16) | 0x0040 // quiet NaN
        : (b + 0x7fff + ((b >> 16) & 1)) >>> 16;
  }
}

/** f32 values → f16 words, as f32ToF16Bits. */
function encodeF16(bits: Int32Array, out: Uint16Array): void {
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    const sign = (b >>> 16) & 0x8000;
    const a = b & 0x7fffffff;
    let h: number;
    if (a >= 0x38800000 && a < 0x47800000) {
      // Normal half: rebias the exponent, round the 13 dropped bits to nearest even (a carry may reach inf).
      h = (a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13;
    } else if (a >= 0x7f800000) {
      h = a > 0x7f800000 ? 0x7e00 : 0x7c00; // NaN (quiet) or inf
    } else if (a >= 0x47800000) {
      h = 0x7c00; // overflow → inf
    } else {
      // Subnormal half or zero.
      const e = (a >>> 23) - 112;
      if (e < -10) h = 0;
      else {
        const mant = (a & 0x7fffff) | 0x800000;
        const shift = 14 - e;
        const half = 1 << (shift - 1);
        const rest = mant & ((1 << shift) - 1);
        h = mant >>> shift;
        if (rest > half || (rest === half && h & 1)) h++;
      }
    }
    out[i] = sign | h;
  }
}

/** Encodes f32 values into fresh little-endian storage bytes (RNE for 16-bit types). */
export function encodeFrom(values: Float32Array, dtype: DType): Uint8Array {
  if (dtype === 'F32')
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint16Array(values.length);
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  if (dtype === 'BF16') encodeBf16(bits, out);
  else encodeF16(bits, out);
  return new Uint8Array(out.buffer);
}
