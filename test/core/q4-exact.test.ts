/**
 * The integer method of shaders/q4-pack.wgsl, transcribed line by line into TypeScript, against the
 * spec (src/core/kernels/q4-pack.ts): the same codes as q4Code and the same scale bits as the CPU's
 * f32 store of m / −8, on a million random pairs, on constructed ties (−8w/m = k + ½ exactly), on
 * subnormals, infinities and NaN; and whole blocks packed by the transcription equal packQ4's bytes.
 * This is the proof that the GPU packer needs no float division to be bit-exact.
 */
import { describe, expect, it } from 'vitest';
import { packQ4, q4Code } from '../../src/core/kernels/q4-pack';
import { seededRandom } from '../../src/core/random';

const SIGN = 0x80000000;
const ABS = 0x7fffffff;
const INF = 0x7f800000;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number) => ((f32[0] = x), u32[0]!);
const valueOf = (b: number) => ((u32[0] = b), f32[0]!);

// ---- the transcription (names as in the shader); every value stays below 2^32, as u32 there
let largestOperand = 0;
const significand = (a: number) => (a >>> 23 !== 0 ? (a & 0x7fffff) | 0x800000 : a);
const exponent = (a: number) => Math.max(a >>> 23, 1);
function divRoundHalfEven(num: number, den: number): number {
  largestOperand = Math.max(largestOperand, num, den);
  const q = Math.floor(num / den);
  const twice = 2 * (num - q * den);
  return q + (twice > den || (twice === den && (q & 1) === 1) ? 1 : 0);
}
function scaleBits(m: number): number {
  const a = m & ABS;
  if (a === 0) return 0;
  const sign = (m ^ SIGN) & SIGN;
  const e = a >>> 23;
  if (e === 255) return (sign | a) >>> 0;
  if (e > 3) return (sign | (a - (3 << 23))) >>> 0;
  return (sign | divRoundHalfEven(significand(a), 1 << (4 - exponent(a)))) >>> 0;
}
function q4CodeBits(b: number, m: number): number {
  const a = b & ABS;
  const am = m & ABS;
  if (a > INF) return 0;
  if (am === INF) return a === INF ? 0 : 8;
  const d = exponent(a) - exponent(am) + 3;
  if (d <= -8) return 8;
  const k = divRoundHalfEven(significand(a) * 2 ** Math.max(d, 0), significand(am) * 2 ** Math.max(-d, 0));
  const r = ((b ^ m) & SIGN) === 0 ? -k : k;
  return Math.min(15, Math.max(0, r + 8));
}
function packBlockBits(bits: Uint32Array, blockSize: number): { packed: number[]; scales: number[] } {
  const packed: number[] = [];
  const scales: number[] = [];
  for (let start = 0; start < bits.length; start += blockSize) {
    let m = 0;
    for (let i = 0; i < blockSize; i++) {
      const a = bits[start + i]! & ABS;
      if (a > (m & ABS) && a <= INF) m = bits[start + i]!;
    }
    scales.push(scaleBits(m));
    const zero = (m & ABS) === 0;
    for (let i = 0; i < blockSize; i += 2) {
      const code = (j: number) => (zero ? 8 : q4CodeBits(bits[start + j]!, m));
      packed.push(code(i) | (code(i + 1) << 4));
    }
  }
  return { packed, scales };
}

// ---- cases
const random = seededRandom(16);
const randomBits = () => Math.floor(random() * 2 ** 32);
/** A finite f32 of random sign and exponent (subnormals included) and random significand. */
const randomFinite = () => {
  const b = randomBits();
  return (b & 0x7f800000) === INF ? b & ~0x40000000 : b;
};
/** w with |w| ≤ |m|: uniform in value, uniform in bits, or m's own magnitude. */
function partner(m: number): number {
  const am = m & ABS;
  const sign = random() < 0.5 ? 0 : SIGN;
  const pick = random();
  if (pick < 0.45) return bitsOf(valueOf(am) * random() * (random() < 0.5 ? 1 : -1));
  if (pick < 0.9) return (sign | Math.floor(random() * (am + 1))) >>> 0;
  return (sign | am) >>> 0;
}
/** Every finite w = (k + ½)·|m|/8 (k = 0…7, either sign) that f32 represents: −8w/m is a tie. */
function ties(m: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < 8; k++)
    for (const s of [1, -1]) {
      const w = (s * (2 * k + 1) * Math.abs(valueOf(m))) / 16;
      if (Math.fround(w) === w && w !== 0) out.push(bitsOf(w));
    }
  return out;
}
/** m with trailing zero bits in its significand, so that its tie partners are representable. */
const tieFriendly = (m: number) => (m & ~0xf) >>> 0;

function expectCodes(pairs: [number, number][]) {
  let bad = 0;
  let first = '';
  for (const [w, m] of pairs) {
    const want = q4Code(valueOf(w), valueOf(m));
    const got = q4CodeBits(w, m);
    if (got !== (want | 0)) {
      if (!bad) first = `w=${valueOf(w)} m=${valueOf(m)}: ${got} vs ${want}`;
      bad++;
    }
  }
  expect(bad, first).toBe(0);
}

describe('the exact integer method of shaders/q4-pack.wgsl = the spec', () => {
  it('codes: 1,000,000 random pairs |w| ≤ |m| across the whole f32 range', () => {
    largestOperand = 0;
    const pairs: [number, number][] = [];
    for (let i = 0; i < 1_000_000; i++) {
      const m = randomFinite();
      if ((m & ABS) === 0) continue;
      pairs.push([partner(m), m]);
    }
    expectCodes(pairs);
    expect(largestOperand).toBeLessThan(2 ** 31); // num, den and 2·rem fit u32
  });

  it('codes: constructed ties −8w/m = k + ½ round half to even (normal and subnormal m)', () => {
    const pairs: [number, number][] = [];
    let tieCount = 0;
    for (let i = 0; i < 20_000; i++) {
      const m = tieFriendly(i % 4 === 0 ? randomBits() & 0x80ffffff : randomFinite()); // ¼ with a subnormal-range m
      if ((m & ABS) === 0 || (m & ABS) >= INF) continue;
      for (const w of ties(m)) {
        pairs.push([w, m]);
        tieCount++;
      }
    }
    expect(tieCount).toBeGreaterThan(100_000);
    // the ties do land on halves: half round down, half round up (k even / odd)
    const [w, m] = [bitsOf(0.75), bitsOf(-4)]; // −8·0.75/−4 = 1.5 → 2
    expect(q4CodeBits(w, m)).toBe(10);
    expectCodes(pairs);
  });

  it('codes: subnormal w and m, zeros of both signs, w = ±m, infinities and NaN', () => {
    const pairs: [number, number][] = [];
    for (let i = 0; i < 100_000; i++) {
      const m = (randomBits() & 0x807fffff) >>> 0 || 1; // subnormal m
      pairs.push([partner(m), m]);
      const n = randomFinite() || 1;
      pairs.push([(randomBits() & 0x807fffff) >>> 0, n]); // subnormal w, any m
    }
    for (const m of [1, 0x80000001, 0x00800000, 0x7f7fffff, 0xff7fffff, bitsOf(1), bitsOf(-3)])
      for (const w of [0, SIGN, m, (m ^ SIGN) >>> 0, 1, 0x80000001, 0x7fc00000, 0xffc00001]) pairs.push([w, m]);
    for (const m of [INF, (INF | SIGN) >>> 0])
      for (const w of [0, bitsOf(-2), INF, (INF | SIGN) >>> 0, 0x7fc00000]) pairs.push([w, m]);
    expectCodes(pairs);
  });

  it('scales: the bits of m / −8 stored as f32 (every exponent, subnormal results rounded half to even)', () => {
    const ms: number[] = [0x7f800000, 0xff800000, 0x7f7fffff];
    for (let e = 0; e < 8; e++)
      for (let f = 0; f < 64; f++) ms.push((e << 23) | f, (e << 23) | (0x7fffff - f), (e << 23) | (f << 17));
    for (let i = 0; i < 200_000; i++) ms.push(randomFinite(), (randomBits() & 0x83ffffff) >>> 0);
    let bad = 0;
    for (const m0 of ms) {
      for (const m of [m0 >>> 0, (m0 | SIGN) >>> 0]) {
        if ((m & ABS) === 0) continue;
        if (scaleBits(m) !== bitsOf(valueOf(m) / -8)) bad++;
      }
    }
    expect(bad).toBe(0);
    expect(scaleBits(0)).toBe(0);
    expect(scaleBits(SIGN)).toBe(0); // an all-zero block (m never becomes −0): +0
  });

  it('whole blocks: the transcribed packer = packQ4 byte for byte (ties, repeats, zeros, specials)', () => {
    for (const blockSize of [32, 64, 128] as const) {
      const rows = 48;
      const bits = new Uint32Array(rows * blockSize);
      for (let r = 0; r < rows; r++) {
        const m = tieFriendly(randomFinite()) || 0x3f800000;
        const tie = ties(m);
        for (let i = 0; i < blockSize; i++) {
          const kind = (r + i) % 7;
          bits[r * blockSize + i] =
            r % 8 === 0
              ? [0, SIGN][i % 2]! // all-zero block (both zero signs)
              : kind < 3 && tie.length
                ? tie[i % tie.length]!
                : kind === 3
                  ? m // the extreme repeated
                  : kind === 4
                    ? (m ^ SIGN) >>> 0 // its opposite: the first of the two wins
                    : partner(m);
        }
        if (r % 16 === 5) bits[r * blockSize + 3] = 0x7fc00000; // NaN
        if (r % 16 === 9) bits[r * blockSize + 7] = INF;
      }
      const want = packQ4(new Float32Array(bits.buffer), rows, blockSize, blockSize);
      const got = packBlockBits(bits, blockSize);
      expect(got.packed).toEqual([...want.packed]);
      expect(got.scales).toEqual([...new Uint32Array(want.scales.buffer)]);
    }
  });
});
