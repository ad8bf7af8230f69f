/**
 * The fast CPU backend's wasm SIMD kernels (src/core/merge/fast/simd/) against their scalar twins,
 * bit for bit: decode of every f16 and bf16 pattern, encode of edge-case and random f32 patterns,
 * weighted sums of 1–5 operands mixing f16, bf16 and f32 at lengths around the 4-lane width and the
 * 4,096-element block, task vectors, TIES's two-model merge; that the committed module is the assembled .wat; that the
 * backend frees a loaded buffer only once nothing reads it (its tensor and every pending sum over
 * it), and fills a written output buffer again; and the main side's shared read buffers.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { assembleSimdKernels, MODULE_PATH, moduleSource } from '../../scripts/build-simd';
import { decodeTable, decodeWords, encodeFrom } from '../../src/core/merge/fast/codec';
import { FastCpuBackend } from '../../src/core/merge/fast/fast-cpu-backend';
import { deltaInto, weightedSumInto } from '../../src/core/merge/fast/kernels';
import { combinePair, pairDivisors } from '../../src/core/merge/fast/magnitude-kernels';
import { type Half, type SimdOperand, simdKernels } from '../../src/core/merge/fast/simd/simd-kernels';
import { SharedReadBuffers } from '../../src/core/merge/parallel/shared-reads';
import { firstDifference } from '../helpers/backend-identity';

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** n pseudo-random 16-bit words (every kind of pattern: NaN, ±∞, subnormals, ±0). */
function words(n: number, seed: number): Uint16Array {
  const w = new Uint16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    w[i] = s >>> 16;
  }
  return w;
}

/** The scalar decode (the reference's tables). */
function scalarDecode(w: Uint16Array, dtype: Half): Float32Array {
  const out = new Float32Array(w.length);
  decodeWords(w, decodeTable(dtype), out);
  return out;
}

describe('wasm SIMD kernels = scalar kernels', () => {
  const simd = simdKernels();

  it('are available in Node (else the fast backend silently runs its scalar kernels)', () => {
    expect(simd).toBeDefined();
  });

  it('the committed module is the assembled merge-kernels.wat', async () => {
    expect(readFileSync(MODULE_PATH, 'utf8')).toBe(moduleSource(await assembleSimdKernels()));
  });

  it.each(['F16', 'BF16'] as const)('decode every %s pattern bit for bit', (dtype) => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const got = new Float32Array(65536);
    simd!.decode(all, dtype, got);
    expect(firstDifference(bytesOf(got), bytesOf(scalarDecode(all, dtype)))).toBe(-1);
  });

  it.each(['F16', 'BF16'] as const)('encode f32 to %s bit for bit (RNE, NaN, inf, subnormals)', (dtype) => {
    const edges = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 1, 0x007fffff];
    for (let e = 90; e <= 150; e++)
      for (const m of [0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fffff, 0x7fe000, 0x7ff000, 0x400000])
        edges.push((e << 23) | m, (0x80000000 | (e << 23) | m) >>> 0);
    const bits = new Uint32Array(words(400_000, 7).buffer);
    bits.set(edges);
    const values = new Float32Array(bits.buffer);
    const got = new Uint16Array(values.length);
    simd!.encode(values, dtype, got);
    expect(firstDifference(bytesOf(got), encodeFrom(values, dtype))).toBe(-1);
  });

  const lengths = [1, 3, 4, 5, 4095, 4096, 4097, 9003];
  it.each(lengths)('weighted sums of 1–5 mixed operands, %i elements, to f32 and to 16 bits', (n) => {
    const kinds = ['BF16', 'F16', 'F32', 'BF16', 'F16'] as const;
    const raw = kinds.map((k, t) => (k === 'F32' ? scalarDecode(words(n, 40 + t), 'BF16') : words(n, 40 + t)));
    const operand = (t: number): SimdOperand => {
      const k = kinds[t]!;
      return k === 'F32' ? { values: raw[t] as Float32Array } : { words: raw[t] as Uint16Array, dtype: k };
    };
    const asF32 = (t: number) =>
      kinds[t] === 'F32' ? (raw[t] as Float32Array) : scalarDecode(raw[t] as Uint16Array, kinds[t] as Half);
    for (let k = 1; k <= 5; k++) {
      const ws = [0, 0.5, -1.3, 1e-3, 7].slice(0, k);
      const want = new Float32Array(n);
      weightedSumInto(
        Array.from({ length: k }, (_, t) => asF32(t)),
        ws,
        want,
      );
      const got = new Float32Array(n);
      const ops = Array.from({ length: k }, (_, t) => operand(t));
      simd!.weightedSum(ops, ws, { values: got });
      expect(firstDifference(bytesOf(got), bytesOf(want)), `k=${k} f32`).toBe(-1);
      for (const dtype of ['F16', 'BF16'] as const) {
        const out = new Uint16Array(n);
        simd!.weightedSum(ops, ws, { words: out, dtype });
        expect(firstDifference(bytesOf(out), encodeFrom(want, dtype)), `k=${k} ${dtype}`).toBe(-1);
      }
    }
  });

  it.each(lengths)('task vectors a − b, %i elements', (n) => {
    const a = words(n, 3);
    const b = words(n, 4);
    for (const [da, db] of [
      ['BF16', 'BF16'],
      ['F16', 'BF16'],
      ['F16', 'F16'],
    ] as const) {
      const want = new Float32Array(n);
      deltaInto(scalarDecode(a, da), scalarDecode(b, db), want);
      const got = new Float32Array(n);
      simd!.subtract({ words: a, dtype: da }, { values: scalarDecode(b, db) }, got);
      expect(firstDifference(bytesOf(got), bytesOf(want)), `${da} − ${db} (f32)`).toBe(-1);
      simd!.subtract({ words: a, dtype: da }, { words: b, dtype: db }, got);
      expect(firstDifference(bytesOf(got), bytesOf(want)), `${da} − ${db}`).toBe(-1);
    }
  });
});

describe('TIES for two models on the SIMD kernels = combinePair’s scalar loop', () => {
  /** f32 values of random 16-bit patterns, with zeros (trimmed), ±0, ±∞ and NaN mixed in. */
  const values = (n: number, seed: number) => {
    const v = scalarDecode(words(n, seed), 'BF16');
    for (let i = 0; i < n; i += 3) v[i] = 0; // a third trimmed
    [v[1], v[4], v[7], v[10]] = [-0, Infinity, -Infinity, NaN];
    return v;
  };
  it.each([
    [0.5, 0.5, 1, true],
    [0.6, 0.3, 0.9, true],
    [0.6, 0.3, 0.9, false],
    [1, -0.7, 0, true],
    [0, 0.4, 2.5, true],
  ])('w0 %f, w1 %f, λ %f, normalize %s', (w0, w1, lambda, normalize) => {
    const n = 9003;
    const [d0, d1, base] = [values(n, 1), values(n, 2), values(n, 3)];
    base[4] = NaN;
    const divisors = pairDivisors(w0, w1, normalize);
    const pair = { d0, b0: new Int32Array(d0.buffer), d1, b1: new Int32Array(d1.buffer), w0, w1 };
    const want = new Float32Array(n);
    combinePair(pair, divisors, base, lambda, want, 0, n);
    const got = new Float32Array(n).fill(7);
    combinePair({ ...pair, simd: simdKernels() }, divisors, base, lambda, got, 5, n - 2);
    combinePair({ ...pair, simd: simdKernels() }, divisors, base, lambda, got, 0, 5);
    expect(got[n - 1]).toBe(7); // outside [from, to): untouched
    combinePair({ ...pair, simd: simdKernels() }, divisors, base, lambda, got, n - 2, n);
    expect(firstDifference(bytesOf(got), bytesOf(want))).toBe(-1);
  });
});

describe('the fast backend frees loaded bytes only once nothing reads them', () => {
  it('a pending sum keeps its inputs; the sum computed after they are released is still right', async () => {
    const be = new FastCpuBackend();
    const freed: ArrayBufferLike[] = [];
    be.onBytesFree = (b) => freed.push(b);
    const raw = [words(5000, 1), words(5000, 2)];
    const want = new Float32Array(5000);
    weightedSumInto(
      raw.map((w) => scalarDecode(w, 'BF16')),
      [0.25, 0.75],
      want,
    );
    const [a, b] = await Promise.all(raw.map((w) => be.load(bytesOf(w), 'BF16')));
    const sum = await be.weightedSum([a!, b!], [0.25, 0.75]);
    be.release(a!);
    be.release(b!);
    expect(freed).toEqual([]); // the sum has not read them yet
    expect(firstDifference(await be.store(sum, 'BF16'), encodeFrom(want, 'BF16'))).toBe(-1);
    expect(freed).toEqual(raw.map((w) => w.buffer)); // read: both free, once each
    be.release(sum);
    expect(freed.length).toBe(2);
  });

  it('f32 inputs, and 16-bit ones that had to be copied (odd offset), are free at once', async () => {
    const be = new FastCpuBackend();
    const freed: ArrayBufferLike[] = [];
    be.onBytesFree = (b) => freed.push(b);
    const f32 = new Float32Array([1, 2, 3]);
    await be.load(bytesOf(f32), 'F32');
    const odd = new Uint8Array(11);
    await be.load(odd.subarray(1), 'F16');
    expect(freed).toEqual([f32.buffer, odd.buffer]);
  });
});

describe('the fast backend fills a written output buffer again', () => {
  it('a buffer handed back serves the next store of its size, with that store’s bytes', async () => {
    const be = new FastCpuBackend();
    const raw = words(6000, 9);
    const want = new Float32Array(6000);
    weightedSumInto([scalarDecode(raw, 'F16')], [0.5], want);
    const first = await be.store(await be.weightedSum([await be.load(bytesOf(raw), 'F16')], [0.5]), 'F16');
    be.reuseOutput(first.buffer as ArrayBuffer);
    const again = await be.store(await be.weightedSum([await be.load(bytesOf(raw), 'F16')], [0.5]), 'F16');
    expect(again.buffer).toBe(first.buffer);
    expect(firstDifference(again, encodeFrom(want, 'F16'))).toBe(-1);
    const other = await be.store(await be.weightedSum([await be.load(bytesOf(raw.subarray(1)), 'F16')], [1]), 'F16');
    expect(other.buffer).not.toBe(first.buffer); // another size: a new buffer
  });
});

describe('SharedReadBuffers', () => {
  it('reuses an idle buffer that holds a read (up to 1.5× larger), else makes one; keeps at most its cap idle', () => {
    const MiB = 2 ** 20;
    const reads = new SharedReadBuffers(3 * MiB);
    const first = reads.take(MiB)!;
    expect(first.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([first.byteLength, first.buffer.byteLength]).toEqual([MiB, MiB]);
    const big = new SharedArrayBuffer(1.25 * MiB);
    reads.give(first.buffer as SharedArrayBuffer);
    reads.give(big);
    reads.give(new SharedArrayBuffer(MiB)); // over the cap: dropped
    expect(reads.idleBytes).toBe(2.25 * MiB);
    expect(reads.take(0.875 * MiB)!.buffer).toBe(first.buffer); // the smallest that holds it
    expect(reads.take(0.875 * MiB)!.buffer).toBe(big); // 1.25 MiB ≤ 1.5 × 0.875 MiB
    expect(reads.idleBytes).toBe(0);
    const fresh = reads.take(0.875 * MiB)!; // none idle: a new one of its size class
    expect([fresh.byteLength, fresh.buffer.byteLength]).toEqual([0.875 * MiB, 0.875 * MiB]);
    expect(reads.take(1000)).toBeUndefined(); // small reads are sent as they are
  });
});
