/**
 * The page's WebGPU merges (the merge worker's PAGE_GPU_OPTIONS: chunks smaller than the CLI's, a
 * small buffer pool; smaller still for TIES, selectChunkElements) give the plain-TS reference's
 * bytes on a tensor that spans several of the page's chunks: TIES ranks the whole tensor across
 * them, TA streams them. Each loads chunks of its own size (what the page's memory follows).
 */
import { MessageChannel } from 'node:worker_threads';
import { expose } from 'comlink';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { nodeGpu } from '../../src/node/webgpu-env';
import { MergeClient } from '../../src/workers/merge-client';
import { WebGpuBackend } from '../../src/gpu/backend';
import { PAGE_GPU_OPTIONS, createMergeWorkerApi } from '../../src/workers/merge.worker';
import { tinyCheckpoint, tinyModelFiles } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { requireGpu } from './gpu-env';

await requireGpu();

// The embedding (vocab × hidden) spans two of the page's chunks; the rest fit one.
const opts = { hidden: 64, intermediate: 96, vocab: 25_000, layers: 1, dtype: 'BF16' as const };
const models = { base: { seed: 1 }, a: { seed: 2, like: { seed: 1, scale: 0.05 } } };
const RECIPES = {
  ties: `merge_method: ties\nbase_model: base\nmodels:\n  - {model: a, parameters: {weight: 1.0, density: 0.2}}\nparameters: {lambda: 1.0}`,
  ta: `merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - {model: a, parameters: {weight: 0.7}}`,
};

describe("the page's WebGPU chunking", () => {
  const { port1, port2 } = new MessageChannel();
  expose(createMergeWorkerApi(nodeGpu), port1 as never);
  const client = new MergeClient(port2 as never);
  afterAll(() => {
    client.dispose();
    port1.close();
    port2.close();
  });

  it('splits the embedding into several chunks', () => {
    expect(opts.vocab * opts.hidden).toBeGreaterThan(PAGE_GPU_OPTIONS.maxChunkElements);
    expect(PAGE_GPU_OPTIONS.selectChunkElements).toBeLessThan(PAGE_GPU_OPTIONS.maxChunkElements);
  });

  /** The largest chunk (elements) the backend loaded, for 16-bit inputs. */
  const CHUNKS = { ties: PAGE_GPU_OPTIONS.selectChunkElements, ta: PAGE_GPU_OPTIONS.maxChunkElements };

  const files = Object.entries(models).map(([name, o]) => [name, tinyModelFiles({ ...opts, ...o })] as const);

  for (const [method, recipe] of Object.entries(RECIPES))
    it(`${method}: the merge worker on WebGPU gives the reference backend's bytes`, async () => {
      // Copies: the merge transfers (detaches) its inputs.
      const input = Object.fromEntries(
        files.map(([name, f]) => [name, Object.fromEntries([...f].map(([file, bytes]) => [file, bytes.slice()]))]),
      );
      const loaded: number[] = []; // elements per load, as called (the bytes are reused after)
      const load = WebGpuBackend.prototype.load;
      const spy = vi.spyOn(WebGpuBackend.prototype, 'load').mockImplementation(function (this: WebGpuBackend, b, d) {
        loaded.push(b.byteLength / 2);
        return load.call(this, b, d);
      });
      const r = await client.merge({ recipe, models: input, backend: 'webgpu' }).finally(() => spy.mockRestore());
      expect(r.backendNotice).toMatch(/^webgpu \(/);
      const largest = Math.max(...loaded);
      expect(largest).toBe(CHUNKS[method as keyof typeof CHUNKS]);
      const reference = await runMerge(
        recipe,
        await Promise.all(Object.entries(models).map(([name, o]) => tinyCheckpoint(name, { ...opts, ...o }))),
      );
      expect(Object.keys(r.files).sort()).toEqual([...reference.out.files.keys()].sort());
      for (const [f, bytes] of reference.out.files)
        expect(Buffer.from(r.files[f] as Uint8Array).equals(Buffer.from(bytes)), f).toBe(true);
    }, 120_000);
});
