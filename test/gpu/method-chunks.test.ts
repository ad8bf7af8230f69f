/**
 * The WebGPU backend chooses its chunk per method (TensorBackend.chunkElementsFor): by default 2 Mi
 * elements for TA and the other methods that stream each chunk once, and 67 × 64 Ki for the methods
 * that hold task vectors (so a Qwen2.5-0.5B MLP weight stays one chunk for TIES's passes); a merge
 * loads chunks of that size unless asked for another, with the reference backend's bytes.
 */
import { describe, expect, it, vi } from 'vitest';
import { METHODS } from '../../src/core/merge/methods/registry';
import { DEFAULT_CHUNK_ELEMENTS, STREAM_CHUNK_ELEMENTS } from '../../src/gpu/backend-options';
import { WebGpuBackend } from '../../src/gpu/backend';
import type { TensorBackend } from '../../src/core/merge/backend';
import { firstDifference } from '../helpers/backend-identity';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';
import { gpuBackend, requireGpu } from './gpu-env';

await requireGpu();

describe('the WebGPU backend’s chunk per method', () => {
  it('defaults: 2 Mi for methods that stream, 67 × 64 Ki for those that hold task vectors', async () => {
    const be = await gpuBackend();
    for (const m of ['task_arithmetic', 'linear', 'slerp'] as const)
      expect(be.chunkElementsFor(METHODS[m]), m).toBe(STREAM_CHUNK_ELEMENTS);
    for (const m of ['ties', 'dare_ties', 'dare_linear', 'breadcrumbs', 'della'] as const)
      expect(be.chunkElementsFor(METHODS[m]), m).toBe(DEFAULT_CHUNK_ELEMENTS);
    expect(STREAM_CHUNK_ELEMENTS).toBeLessThan(DEFAULT_CHUNK_ELEMENTS);
    const small = await gpuBackend({ maxChunkElements: 1000 });
    expect(small.chunkElementsFor(METHODS.task_arithmetic)).toBe(1000); // never above the largest chunk
  });

  const n = 5000;
  const values = (seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 0.5);
  const tensors = (seed: number) => ({ 'w.weight': { shape: [50, 100], values: values(seed) } });
  const RECIPES = {
    task_arithmetic: 'merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}}]',
    ties: 'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.4}}]',
  };
  const CHUNKS = { task_arithmetic: 1000, ties: 2000 };

  it.each(Object.keys(RECIPES) as (keyof typeof RECIPES)[])('%s loads chunks of its own size', async (method) => {
    const models = [
      await valuesCheckpoint('base', tensors(1), 'BF16'),
      await valuesCheckpoint('a', tensors(2), 'BF16'),
    ];
    const be = await gpuBackend({ maxChunkElements: 3000, streamChunkElements: 1000, selectChunkElements: 2000 });
    const loaded: number[] = [];
    const load = WebGpuBackend.prototype.load;
    const spy = vi.spyOn(WebGpuBackend.prototype, 'load').mockImplementation(function (this: WebGpuBackend, b, d) {
      loaded.push(b.byteLength / 2);
      return load.call(this, b, d);
    });
    const got = await runMerge(RECIPES[method], models, { backend: be as TensorBackend<unknown> }).finally(() =>
      spy.mockRestore(),
    );
    expect(Math.max(...loaded)).toBe(CHUNKS[method]);
    const want = await runMerge(RECIPES[method], models);
    for (const [file, bytes] of want.out.files) expect(firstDifference(got.out.files.get(file), bytes), file).toBe(-1);
  });
});
