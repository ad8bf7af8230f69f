/**
 * Every SVD merge on the WebGPU backend (matmul on the GPU) against the CPU reference backend,
 * whole merges of tiny checkpoints: 2-D weights agree to 1e-4 of the tensor's scale (f32
 * accumulation order differs; the factorisations amplify it a little), fallbacks exactly as TA
 * does. No adapter: FAILS under CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebGpuBackend } from '../../src/gpu/backend';
import { ALL_METHOD_RECIPES } from '../helpers/backend-identity';
import { tinyCheckpoint, tinyTensorShapes } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { gpuBackend, requireGpu } from '../gpu/gpu-env';

await requireGpu();
let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await gpuBackend();
});
afterAll(() => gpu?.dispose());

const SHAPE = { layers: 1, hidden: 16, intermediate: 24, vocab: 16 };
const SVD_METHODS = ['tsv', 'iso_c', 'iso_cts', 'lore', 'twin', 'low_rank_task_arithmetic'];
const RECIPES = Object.fromEntries(SVD_METHODS.map((m) => [m, ALL_METHOD_RECIPES[m]!]));

describe('SVD merges: WebGPU backend against the CPU reference', () => {
  it('uses the GPU matmul', () => {
    expect(typeof gpu.matmul).toBe('function');
  });
  for (const [method, yaml] of Object.entries(RECIPES)) {
    it(method, async () => {
      const models = async () => [
        await tinyCheckpoint('base', { ...SHAPE, seed: 1 }),
        await tinyCheckpoint('a', { ...SHAPE, seed: 2, like: { seed: 1, scale: 0.1 } }),
        await tinyCheckpoint('b', { ...SHAPE, seed: 3, like: { seed: 1, scale: 0.05 } }),
      ];
      const cpu = await runMerge(yaml, await models());
      const g = await runMerge(yaml, await models(), { backend: gpu });
      expect(g.summary.warnings).toEqual(cpu.summary.warnings);
      for (const [name] of tinyTensorShapes({ ...SHAPE, seed: 1 })) {
        const [x, y] = [await cpu.tensor(name), await g.tensor(name)];
        const scale = Math.max(...x.map(Math.abs));
        let worst = 0;
        x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - y[i]!))));
        expect(worst, `${name}: ${worst} (scale ${scale})`).toBeLessThanOrEqual(1e-4 * scale);
      }
    });
  }
});
