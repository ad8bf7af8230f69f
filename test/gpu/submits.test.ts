/**
 * Queue submits per chunk on the WebGPU backend with `batchSubmits` (src/gpu/backend.ts keeps one
 * operation open across a chunk's kernels; the default on hardware adapters, off on lavapipe):
 * task arithmetic and linear take at most 3 submits per chunk (one per input upload, the last one
 * carrying the kernels and the readback), with output byte-identical to the CPU reference and to the
 * per-operation mode, chunked and pipelined (run-method.ts); uniforms come from a slab or two. On bf16
 * checkpoints either mode runs one dispatch per chunk: the fused 16-bit weighted sum (src/gpu/fused.ts),
 * so the per-operation mode also takes 3 submits per chunk (5 before the fused sum). The task-vector
 * methods (whose deltas of packed tensors are computed afresh at each use, into the open operation)
 * give the CPU reference's bytes in batched mode too.
 */
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/core/formats/checkpoint';
import { tinyCheckpoint } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { gpuBackend, requireGpu, useGpuPair } from './gpu-env';
import { RECIPES } from './recipes';

await requireGpu();

const CHUNK = 1001;

/** A bf16 base and two fine-tunes of it (noise 0.05 and 0.08), seeds from `seed` on. */
async function family(layers: number, seed: number): Promise<Checkpoint[]> {
  const o = { dtype: 'BF16' as const, hidden: 24, intermediate: 40, vocab: 61, layers };
  return Promise.all([
    tinyCheckpoint('base', { ...o, seed }),
    tinyCheckpoint('a', { ...o, seed: seed + 1, like: { seed, scale: 0.05 } }),
    tinyCheckpoint('b', { ...o, seed: seed + 2, like: { seed, scale: 0.08 } }),
  ]);
}

describe('WebGPU submits per chunk', () => {
  const backends = useGpuPair();

  it('task arithmetic and linear: ≤ 3 submits per chunk batched, bytes equal to the CPU reference', async () => {
    const models = await family(2, 1);
    const tensors = [...models[0]!.tensors.values()];
    const chunks = tensors.reduce((n, t) => n + Math.max(1, Math.ceil(t.shape.reduce((a, b) => a * b, 1) / CHUNK)), 0);
    expect(chunks).toBeGreaterThan(tensors.length); // some tensors are chunked (and pipelined)
    const batched = await gpuBackend({ batchSubmits: true });
    try {
      for (const method of ['task_arithmetic', 'linear']) {
        const before = batched.stats();
        const g = await runMerge(RECIPES[method]!, models, { chunkElements: CHUNK, backend: batched });
        const after = batched.stats();
        const submits = after.submits - before.submits;
        expect(submits, method).toBeLessThanOrEqual(3 * chunks);
        expect(submits, method).toBeGreaterThanOrEqual(chunks); // one readback each
        expect(after.dispatches - before.dispatches, `${method}: fused sum only`).toBe(chunks);
        expect(after.uniform.created - before.uniform.created, method).toBeLessThanOrEqual(2);
        const perOp = backends.gpu.stats();
        const p = await runMerge(RECIPES[method]!, models, { chunkElements: CHUNK, backend: backends.gpu });
        const perOpSubmits = backends.gpu.stats().submits - perOp.submits;
        expect(perOpSubmits, method).toBeGreaterThanOrEqual(chunks);
        expect(perOpSubmits, method).toBeLessThanOrEqual(3 * chunks);
        expect(backends.gpu.stats().dispatches - perOp.dispatches, method).toBe(chunks);
        const c = await runMerge(RECIPES[method]!, models, { chunkElements: CHUNK });
        for (const t of tensors) {
          expect(await g.raw(t.name), `${method} ${t.name}`).toEqual(await c.raw(t.name));
          expect(await p.raw(t.name), `${method} ${t.name}`).toEqual(await c.raw(t.name));
        }
      }
    } finally {
      await batched.dispose();
    }
  });

  it('ties, dare_ties, breadcrumbs batched: bytes equal to the CPU reference', async () => {
    const models = await family(1, 4);
    const batched = await gpuBackend({ batchSubmits: true });
    try {
      for (const method of ['ties', 'dare_ties', 'breadcrumbs']) {
        const g = await runMerge(RECIPES[method]!, models, { chunkElements: CHUNK, backend: batched });
        const c = await runMerge(RECIPES[method]!, models, { chunkElements: CHUNK });
        for (const t of models[0]!.tensors.values())
          expect(await g.raw(t.name), `${method} ${t.name}`).toEqual(await c.raw(t.name));
      }
    } finally {
      await batched.dispose();
    }
  });
});
