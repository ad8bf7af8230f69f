/**
 * Every SVD merge on the WebGPU backend (matmul on the GPU) against the CPU reference backend,
 * whole merges of tiny checkpoints: 2-D weights agree to 1e-4 of the tensor's scale (f32
 * accumulation order differs; the factorisations amplify it a little), fallbacks exactly as TA
 * does. No adapter: FAILS under CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebGpuBackend } from '../../src/gpu/backend';
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
const RECIPES: Record<string, string> = {
  tsv: 'merge_method: tsv\nbase_model: base\nmodels: [{model: a}, {model: b, parameters: {weight: 0.5}}]\nparameters: {rank: 4}',
  iso_c: 'merge_method: iso_c\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {lambda: 1.3}',
  iso_cts:
    'merge_method: iso_cts\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {common_fraction: 0.6}',
  lore: 'merge_method: lore\nmodels: [{model: a}, {model: b}]\nparameters: {mu: 0.1, iterations: 2}',
  twin: 'merge_method: twin\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}}, {model: b, parameters: {weight: 0.3}}]\nparameters: {rank: 3}',
  low_rank_task_arithmetic:
    'merge_method: low_rank_task_arithmetic\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {energy: 0.8, rank: 12}',
};

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
