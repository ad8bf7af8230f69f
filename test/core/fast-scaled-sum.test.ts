/**
 * The fast backend's weighted sum of long 16-bit operands (wasm SIMD, and fused.ts reading them
 * through tables scaled by their weights where wasm SIMD is missing) against the reference, bit for bit: every
 * 16-bit pattern in every operand (NaN, ±∞, subnormals, ±0), 1 to 3 operands, weights that are
 * 0, negative, non-representable, and the same weights again (tables reused from the cache).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { FastCpuBackend } from '../../src/core/merge/fast/fast-cpu-backend';
import { simdKernels } from '../../src/core/merge/fast/simd/simd-kernels';
import { firstDifference } from '../helpers/backend-identity';

/** 2 × 65,536 words: every pattern, in an order shuffled by `seed`, then every pattern again. */
function everyPattern(seed: number): Uint8Array {
  const words = new Uint16Array(2 * 65536);
  let s = seed;
  for (let i = 0; i < words.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    words[i] = i < 65536 ? (i * 40503 + (s >>> 28)) & 0xffff : i & 0xffff;
  }
  return new Uint8Array(words.buffer);
}

describe.each([
  ['wasm SIMD', simdKernels()],
  ['scalar tables', undefined],
])('weighted sum of long 16-bit operands (%s) = reference', (_, simd) => {
  const ref = new CpuBackend();
  const fast = new FastCpuBackend(undefined, simd);
  it.each(['F16', 'BF16'] as const)('%s', async (dtype) => {
    const raw = [everyPattern(3), everyPattern(5), everyPattern(9)];
    for (const ws of [[0, 0.5, 0.5], [1, -0.3], [0.7], [0, 0.5, 0.5], [-1.1, 0.1, 2]]) {
      const k = ws.length;
      const want = await ref.weightedSum(await Promise.all(raw.slice(0, k).map((b) => ref.load(b, dtype))), ws);
      const got = await fast.weightedSum(await Promise.all(raw.slice(0, k).map((b) => fast.load(b, dtype))), ws);
      const where = `${dtype} ws=${ws}`;
      expect(firstDifference(await fast.store(got, 'F32'), await ref.store(want, 'F32')), where).toBe(-1);
    }
  });
});
