/** The 4-bit packer's spec (src/core/kernels/q4-pack.ts) on hand-worked blocks. */
import { describe, expect, it } from 'vitest';
import { packQ4, q4Code, unpackQ4 } from '../../src/core/kernels/q4-pack';
import { seededRandom } from '../../src/core/random';

describe('q4 packing (MatMulNBits layout, zero point 8)', () => {
  it('codes a hand-worked block: the extreme is exact, halves round to even', () => {
    // m = −4 → s = 0.5; w/s = −8, 4, 0.5 (tie → 0), 1.5 (tie → 2), 2.5 (tie → 2), −7.5 (tie → −8), 3.2
    expect([-4, 2, 0.25, 0.75, 1.25, -3.75, 1.6].map((w) => q4Code(w, -4))).toEqual([0, 12, 8, 10, 10, 0, 11]);
    // a positive extreme maps to q = 0 too (s is negative), and −m clamps to 15
    expect([4, -4, 2].map((w) => q4Code(w, 4))).toEqual([0, 15, 4]);
  });

  it('packs two codes per byte, low nibble first, one scale per block', () => {
    const w = new Float32Array(64);
    w[0] = -4; // block 0: m = −4, s = 0.5
    w[1] = 2;
    w[33] = 8; // block 1: m = 8, s = −1
    w[34] = -3;
    const q = packQ4(w, 1, 64, 32);
    expect(Array.from(q.scales)).toEqual([0.5, -1]);
    expect(q.packed.length).toBe(32);
    expect(q.packed[0]).toBe(0 | (12 << 4));
    expect(q.packed[1]).toBe(8 | (8 << 4));
    expect(q.packed[16]).toBe(8 | (0 << 4)); // elements 32 (0 → 8) and 33 (m → 0)
    expect(q.packed[17]).toBe(11 | (8 << 4)); // element 34: −3 / −1 = 3 → 11
  });

  it('an all-zero block has scale +0 and codes 8', () => {
    const q = packQ4(new Float32Array(32), 1, 32, 32);
    expect(Object.is(q.scales[0], 0)).toBe(true);
    expect(q.packed.every((b) => b === 0x88)).toBe(true);
  });

  it('round-trips: within half a step of each element (a full step where code 15 clamps)', () => {
    const random = seededRandom(5);
    for (const blockSize of [32, 64, 128] as const) {
      const [n, k] = [6, 256];
      const w = Float32Array.from({ length: n * k }, () => (random() - 0.5) * 3);
      const q = packQ4(w, n, k, blockSize);
      const back = unpackQ4(q, n, k, blockSize);
      for (let i = 0; i < w.length; i++) {
        const s = Math.abs(q.scales[Math.floor(i / blockSize)]!);
        const clamped = ((q.packed[i >> 1]! >> (4 * (i & 1))) & 15) === 15;
        expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual((clamped ? s : s / 2) + 1e-7);
      }
      // packing the dequantized weight again gives the same bytes
      const again = packQ4(back, n, k, blockSize);
      expect(again.packed).toEqual(q.packed);
      expect(again.scales).toEqual(q.scales);
    }
  });

  it('refuses an input dimension the block size does not divide', () => {
    expect(() => packQ4(new Float32Array(48), 1, 48, 32)).toThrow(/not a multiple of the block size 32/);
  });
});
