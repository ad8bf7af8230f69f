/**
 * The fast CPU backend against the plain-TS reference: every conversion bit for bit (all 65,536
 * f16 patterns, edge-case and random f32 patterns), every kernel on random data, and whole merges
 * of every method in the registry (SVD family included) byte for byte, on f32/f16/bf16 tiny
 * checkpoints with several chunk sizes and on the demo models.
 */
import { describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import type { TensorBackend } from '../../src/core/merge/backend';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { decodeInto, encodeFrom } from '../../src/core/merge/fast/codec';
import { FastCpuBackend } from '../../src/core/merge/fast/fast-cpu-backend';
import { simdKernels } from '../../src/core/merge/fast/simd/simd-kernels';
import { DELTA } from '../../src/core/kernels/delta';
import { METHODS } from '../../src/core/merge/methods/registry';
import { type ActivationStats } from '../../src/core/merge/activation-stats';
import { FsModelFolder } from '../../src/node/fs-folder';
import { tinyCheckpoint } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { ALL_METHOD_RECIPES, firstDifference } from '../helpers/backend-identity';
import { SENS_METHOD } from '../../src/core/sens/settings';

/** f32 bit patterns that reach every branch of the 16-bit encoders, plus random ones. */
function edgeAndRandomBits(count: number): Uint32Array {
  const edges = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x00000001, 0x007fffff];
  for (let e = 90; e <= 150; e++)
    for (const m of [0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fffff, 0x7fe000, 0x7ff000, 0x400000, 0x401000])
      edges.push((e << 23) | m, 0x80000000 | (e << 23) | m);
  const out = new Uint32Array(edges.length + count);
  out.set(edges.map((b) => b >>> 0));
  let s = 12345;
  for (let i = edges.length; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s;
  }
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('fast codec = dtype.ts', () => {
  it('decodes every f16 and bf16 pattern and f32 bits exactly, aligned or not', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const dtype of ['F16', 'BF16'] as const) {
      const want = decodeToF32(bytesOf(all), dtype);
      const got = new Float32Array(65536);
      decodeInto(bytesOf(all), dtype, got);
      expect(firstDifference(bytesOf(got), bytesOf(want))).toBe(-1);
      const shifted = new Uint8Array(65536 * 2 + 1);
      shifted.set(bytesOf(all), 1);
      const got2 = new Float32Array(65536);
      decodeInto(shifted.subarray(1), dtype, got2);
      expect(firstDifference(bytesOf(got2), bytesOf(want))).toBe(-1);
    }
    const bits = edgeAndRandomBits(1000);
    const got = new Float32Array(bits.length);
    decodeInto(bytesOf(bits), 'F32', got);
    expect(firstDifference(bytesOf(got), bytesOf(bits))).toBe(-1);
  });

  it('encodes f32 to f16, bf16 and f32 bit for bit (RNE, NaN, inf, subnormals)', () => {
    const values = new Float32Array(edgeAndRandomBits(200_000).buffer);
    for (const dtype of ['F16', 'BF16', 'F32'] as const)
      expect(firstDifference(encodeFrom(values, dtype), encodeFromF32(values, dtype)), dtype).toBe(-1);
  });
});

describe.each([
  ['wasm SIMD', simdKernels()],
  ['scalar', undefined],
])('fast kernels (%s) = reference kernels', (_, simd) => {
  const ref = new CpuBackend();
  const fast = new FastCpuBackend(undefined, simd);
  /** Storage bytes: every pattern for 16-bit types (NaN, inf, subnormals, ±0), wide-ranged values for f32. */
  const rnd = (n: number, seed: number, dtype: DType) => {
    const words = new Uint16Array(dtype === 'F32' ? n * 2 : n);
    let s = seed;
    for (let i = 0; i < words.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      words[i] = s >>> 16;
    }
    if (dtype !== 'F32') return bytesOf(words);
    const x = new Float32Array(words.buffer);
    for (let i = 0; i < n; i++) if (!Number.isFinite(x[i]!) || i % 7 === 0) x[i] = i % 3 === 0 ? 0 : (i % 11) - 5;
    return bytesOf(x);
  };
  const same = async (a: unknown, b: Float32Array) =>
    expect(firstDifference(await fast.store(a as never, 'F32'), bytesOf(b))).toBe(-1);
  describe.each(['F32', 'F16', 'BF16'] as const)('%s inputs', (dtype) => {
    it.each([1, 2, 3, 4, 5])('weightedSum, electSign, disjointMean, delta with %i inputs', async (k) => {
      const raw = Array.from({ length: k }, (_, t) => rnd(1001, 7 + t, dtype));
      const xs = await Promise.all(raw.map((b) => ref.load(b, dtype)));
      const ws = Array.from({ length: k }, (_, t) => 0.3 + 0.17 * t - (t === 2 ? 1 : 0));
      // Fresh handles per kernel: some kernels read storage words directly, others decode first.
      const load = () => Promise.all(raw.map((b) => fast.load(b, dtype)));
      await same(await fast.weightedSum(await load(), ws), await ref.weightedSum(xs, ws));
      const half = await load();
      await fast.dot(half[0]!, half[0]!); // one input decoded, the others still in storage form
      await same(await fast.weightedSum(half, ws), await ref.weightedSum(xs, ws));
      const sign = await ref.electSign(xs);
      await same(await fast.electSign(await load()), sign);
      for (const normalize of [true, false]) {
        const fs = await load();
        const fastSign = await fast.electSign(fs);
        await same(
          await fast.disjointMean(fs, ws, fastSign, normalize),
          await ref.disjointMean(xs, ws, sign, normalize),
        );
      }
      const fd = await load();
      await same(
        await fast.elementwise(DELTA, [fd[0]!, fd[k - 1]!], {}),
        await ref.elementwise(DELTA, [xs[0]!, xs[k - 1]!], {}),
      );
      expect(await fast.dot(fd[0]!, fd[k - 1]!)).toBe(await ref.dot(xs[0]!, xs[k - 1]!));
    });
  });
});

/** Every output file of two merges, byte for byte. */
async function expectSameOutput(recipe: string, models: () => Promise<Checkpoint[]>, opts = {}) {
  const run = async (backend: TensorBackend<unknown>) => {
    const ms = await models();
    try {
      return await runMerge(recipe, ms, { ...opts, backend });
    } finally {
      await Promise.all(ms.map((m) => m.close()));
    }
  };
  const want = await run(new CpuBackend() as TensorBackend<unknown>);
  const got = await run(new FastCpuBackend() as TensorBackend<unknown>);
  expect([...got.out.files.keys()].sort()).toEqual([...want.out.files.keys()].sort());
  for (const [file, bytes] of want.out.files) expect(firstDifference(got.out.files.get(file), bytes), file).toBe(-1);
  expect(got.summary.diagnostics).toEqual(want.summary.diagnostics);
}

describe('whole merges: fast CPU backend = reference, byte for byte', () => {
  // sens_merging never reaches a backend: it compiles to task_arithmetic first (src/core/sens/compile.ts),
  // and test/sens/sens-block.test.ts checks those bytes.
  const methods = Object.keys(METHODS).filter((m) => m !== SENS_METHOD);
  it('has a recipe for every method in the registry', () => {
    expect(methods.filter((m) => !ALL_METHOD_RECIPES[m])).toEqual([]);
  });
  const shape = { layers: 1, hidden: 16, intermediate: 24, vocab: 20 };
  describe.each(['F32', 'F16', 'BF16'] as const)('%s inputs', (dtype: DType) => {
    const models = async () => [
      await tinyCheckpoint('base', { seed: 1, dtype, ...shape }),
      await tinyCheckpoint('a', { seed: 2, dtype, like: { seed: 1, scale: 0.05 }, ...shape }),
      await tinyCheckpoint('b', { seed: 3, dtype, like: { seed: 1, scale: 0.08 }, ...shape, shards: 2 }),
    ];
    it.each(methods)('%s', async (method) => {
      const recipe = ALL_METHOD_RECIPES[method]!;
      for (const chunkElements of [undefined, 37])
        await expectSameOutput(recipe, models, { chunkElements, diagnostics: true });
    });
  });

  it('AIM on top of TIES, output dtype changed', async () => {
    const stats: ActivationStats = {
      format: 'merge-lab-activation-stats',
      version: 1,
      model: 'base',
      calibration: { set: 'toy', samples: 2, tokens: 10 },
      channels: { 'model.layers.0.mlp.down_proj.weight': Array.from({ length: 24 }, (_, i) => (i % 5) + 0.5) },
    };
    const recipe = `${ALL_METHOD_RECIPES.ties}\ndtype: float16\naim: {omega: 0.4, calibration: stats.json}`;
    const shape = { layers: 1, hidden: 16, intermediate: 24, vocab: 20, dtype: 'BF16' as const };
    await expectSameOutput(
      recipe,
      async () => [
        await tinyCheckpoint('base', { seed: 1, ...shape }),
        await tinyCheckpoint('a', { seed: 2, like: { seed: 1, scale: 0.05 }, ...shape }),
        await tinyCheckpoint('b', { seed: 3, like: { seed: 1, scale: 0.08 }, ...shape }),
      ],
      { activationStats: stats, chunkElements: 50 },
    );
  });

  it.each(['task_arithmetic', 'ties', 'dare_ties', 'slerp', 'tsv'])('demo models: %s', async (method) => {
    const demo = path.resolve('public/models');
    const recipe = ALL_METHOD_RECIPES[method]!.replaceAll(/\bbase\b/g, 'demo-base')
      .replaceAll(/\ba\b/g, 'demo-quick')
      .replaceAll(/\bb\b/g, 'demo-slow');
    const open = async () =>
      Promise.all(
        ['demo-base', 'demo-quick', 'demo-slow'].map((m) => Checkpoint.open(new FsModelFolder(path.join(demo, m)))),
      );
    await expectSameOutput(recipe, open, { chunkElements: 1 << 16 });
  });
});
