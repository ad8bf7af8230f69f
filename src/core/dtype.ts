/**
 * Storage dtypes and exact conversions. Merges compute in f32; f16 and bf16 are converted
 * with round-to-nearest-even (ties to even), the same rule the GPU kernels implement.
 */

export type DType = 'F32' | 'F16' | 'BF16';

export const SUPPORTED_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16'];

/** Item sizes of every dtype the safetensors format defines (supported or not). */
export const SAFETENSORS_ITEMSIZE: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

export function itemSize(dtype: DType): number {
  return dtype === 'F32' ? 4 : 2;
}

export function isSupportedDType(s: string): s is DType {
  return (SUPPORTED_DTYPES as readonly string[]).includes(s);
}

/** Recipe (`float16`) ↔ safetensors (`F16`) names. */
export const RECIPE_DTYPE: Record<string, DType> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
};
export function recipeDTypeName(d: DType): string {
  return d === 'F32' ? 'float32' : d === 'F16' ? 'float16' : 'bfloat16';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff; // quiet NaN
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit-1 mantissa right with RNE
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into exponent: correct
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Decodes little-endian storage bytes into a fresh Float32Array. */
export function decodeToF32(bytes: Uint8Array, dtype: DType): Float32Array {
  const n = bytes.byteLength / itemSize(dtype);
  if (dtype === 'F32') {
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const u16 = new Uint16Array(n);
  new Uint8Array(u16.buffer).set(bytes);
  const out = new Float32Array(n);
  if (dtype === 'BF16') {
    const o32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) o32[i] = u16[i]! << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(u16[i]!);
  }
  return out;
}

/** Encodes f32 values into little-endian storage bytes (RNE for 16-bit types). */
export function encodeFromF32(values: Float32Array, dtype: DType): Uint8Array {
  if (dtype === 'F32')
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const u16 = new Uint16Array(values.length);
  const conv = dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < values.length; i++) u16[i] = conv(values[i]!);
  return new Uint8Array(u16.buffer);
}
