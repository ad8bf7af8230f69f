/**
 * Whole-merge parity: every merge method, WebGPU backend against the CPU reference, through the
 * one merge entry point, on tiny generated checkpoints in f32 / f16 / bf16.
 * f32 tensors agree to ≤ 1e-6 relative (of the tensor's scale); f16/bf16 tensors are identical
 * or differ by at most 1 ulp; the per-tensor notes (TIES/breadcrumbs thresholds, SLERP
 * coefficients) are equal, thresholds exactly. Also: chunked merges (odd chunk sizes), windowed
 * tensors on a folded grid, empty and 1-element tensors.
 */
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype';
import type { Checkpoint } from '../../src/core/formats/checkpoint';
import { randomFloats, tinyCheckpoint } from '../helpers/checkpoints';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';
import { requireGpu, useGpuPair } from './gpu-env';
import { expectParity } from './parity';
import { RECIPES } from './recipes';

await requireGpu();

describe('whole-merge parity, WebGPU vs CPU reference', () => {
  const backends = useGpuPair();

  const tiny = async (dtype: DType): Promise<Checkpoint[]> => {
    const o = { dtype, hidden: 24, intermediate: 40, vocab: 61, layers: 2 };
    return [
      await tinyCheckpoint('base', { ...o, seed: 1 }),
      await tinyCheckpoint('a', { ...o, seed: 2, like: { seed: 1, scale: 0.05 } }),
      await tinyCheckpoint('b', { ...o, seed: 3, like: { seed: 1, scale: 0.08 } }),
    ];
  };

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`every method on tiny ${dtype} checkpoints, whole tensors and odd-sized chunks`, async () => {
      const models = await tiny(dtype);
      for (const [method, recipe] of Object.entries(RECIPES)) {
        for (const chunkElements of [undefined, dtype === 'F32' ? 101 : 1001]) {
          const opts = chunkElements ? { chunkElements } : {};
          const c = await runMerge(recipe, models, opts);
          const g = await runMerge(recipe, models, { ...opts, backend: backends.gpu });
          expect(g.summary.backend).toMatch(/^webgpu/);
          await expectParity(g, c, models[0]!.tensors.keys(), `${method} ${dtype} chunk=${chunkElements ?? 'whole'}`);
        }
      }
      const s = backends.gpu.stats().storage;
      expect(s.allocatedBytes).toBe(s.inUseBytes + s.freeBytes);
    });
  }

  it('empty, 1-element, odd-sized and windowed (2-D grid) tensors, every method', async () => {
    const shapes: Record<string, number[]> = { empty: [0], one: [1], odd: [3, 111], wide: [7, 43_001] };
    const make = (name: string, seed: number, scale: number) =>
      valuesCheckpoint(
        name,
        Object.fromEntries(
          Object.entries(shapes).map(([t, shape], i) => {
            const n = shape.reduce((a, b) => a * b, 1);
            const base = randomFloats(n, 100 + i, 0.5);
            const noise = randomFloats(n, seed * 31 + i, scale);
            return [t, { shape, values: scale ? base.map((v, j) => v + noise[j]!) : base }];
          }),
        ),
        'BF16',
      );
    const models = [await make('base', 1, 0), await make('a', 2, 0.05), await make('b', 3, 0.07)];
    for (const [method, recipe] of Object.entries(RECIPES)) {
      const c = await runMerge(recipe, models);
      const g = await runMerge(recipe, models, { backend: backends.tight });
      await expectParity(g, c, Object.keys(shapes), `${method} backends.tight`);
      // chunked: 100_003-element chunks exceed the TIGHT window (131072 f32 / 65536 state) in part
      const cc = await runMerge(recipe, models, { chunkElements: 100_003 });
      const gc = await runMerge(recipe, models, { backend: backends.tight, chunkElements: 100_003 });
      await expectParity(gc, cc, Object.keys(shapes), `${method} backends.tight chunked`);
    }
  });
});
