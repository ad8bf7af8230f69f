import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  decodeToF32,
  encodeFromF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
} from '../../src/core/dtype';

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;
const fromBits = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0]!;

describe('f16', () => {
  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
  });
  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 is exactly halfway between 1 and 1+2^-10: ties to even → 1.0 (0x3c00)
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even) → up
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds past max half → inf
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // half the smallest subnormal: ties to even (0)
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
  });
});

describe('bf16', () => {
  it('rounds to nearest, ties to even, and keeps NaN a NaN', () => {
    expect(f32ToBf16Bits(fromBits(0x3f808000))).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16Bits(fromBits(0x3f818000))).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16Bits(fromBits(0x3f808001))).toBe(0x3f81);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
    expect(f32ToBf16Bits(fromBits(0x7f7fffff))).toBe(0x7f80); // rounds up to inf
  });
  it('round-trips through byte buffers', () => {
    const xs = new Float32Array([0, -1.5, 3.140625, 1e-3, -65504]);
    const back = decodeToF32(encodeFromF32(xs, 'BF16'), 'BF16');
    for (let i = 0; i < xs.length; i++) expect(bitsOf(back[i]!)).toBe((f32ToBf16Bits(xs[i]!) << 16) >>> 0);
    expect(decodeToF32(encodeFromF32(xs, 'F32'), 'F32')).toEqual(xs);
  });
});
