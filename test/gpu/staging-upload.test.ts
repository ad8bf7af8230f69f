/**
 * WebGPU merges from files read input chunks straight into mapped staging buffers, which the GPU
 * copies into place (src/gpu/staging.ts) instead of writeBuffer copying them on the CPU: most large
 * reads land in staging memory, the staging buffers are reused, and the merged bytes are the CPU
 * reference's, for TA (packed 16-bit inputs) and TIES (decoded), with multi-chunk tensors and
 * read-ahead; a read that fails gives its staging buffer back.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import type { TensorBackend } from '../../src/core/merge/backend';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { parseRecipe } from '../../src/core/recipe/parse';
import { FsModelFolder } from '../../src/node/fs-folder';
import { firstDifference } from '../helpers/backend-identity';
import { writeTinyModel } from '../helpers/checkpoints';
import { gpuBackend, requireGpu } from './gpu-env';

await requireGpu();

const RECIPES = {
  ta: 'merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6}}, {model: b, parameters: {weight: 0.3}}]',
  ties: 'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.3}}, {model: b, parameters: {weight: 0.5, density: 0.5}}]',
};

describe.each(['BF16', 'F32'] as const)('WebGPU merges from %s files through staging buffers', (dtype) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-staging-'));
  // MLP weights of 256 × 1024 (512 KiB in bf16), the embedding several chunks of 128 Ki elements.
  const shape = { layers: 2, hidden: 256, intermediate: 1024, vocab: 2000, dtype };
  writeTinyModel(path.join(dir, 'base'), { seed: 1, ...shape });
  writeTinyModel(path.join(dir, 'a'), { seed: 2, ...shape, like: { seed: 1, scale: 0.05 } });
  writeTinyModel(path.join(dir, 'b'), { seed: 3, ...shape, like: { seed: 1, scale: 0.05 } });

  /** Merges from the files; counts reads of ≥ 256 KiB and those that landed in the buffer offered. */
  async function run(recipe: string, backend: TensorBackend<unknown>, failRead?: number) {
    const folders = ['base', 'a', 'b'].map((m) => new FsModelFolder(path.join(dir, m)));
    const models = await Promise.all(folders.map((f) => Checkpoint.open(f)));
    const reads = { large: 0, staged: 0 };
    let n = 0;
    for (const m of models)
      for (const shard of m.shards) {
        const readRange = shard.readRange.bind(shard);
        shard.readRange = async (name, start, count, into) => {
          if (++n === failRead) throw new Error('the disk went away');
          const bytes = await readRange(name, start, count, into);
          if (bytes.byteLength >= 256 * 1024) reads.large++;
          if (into && bytes.buffer === into.buffer && bytes.byteLength >= 256 * 1024) reads.staged++;
          return bytes;
        };
      }
    const out = new MemoryOutputFolder();
    try {
      await merge(parseRecipe(recipe).recipe, new Map(models.map((m) => [m.name, m])), backend, out, {
        chunkElements: 128 * 1024,
      });
    } finally {
      await Promise.all(folders.map((f) => f.close()));
    }
    return { out, reads };
  }

  it.each(Object.keys(RECIPES) as (keyof typeof RECIPES)[])('%s: the reference bytes', async (name) => {
    const want = await run(RECIPES[name], new CpuBackend() as TensorBackend<unknown>);
    const gpu = await gpuBackend();
    try {
      const got = await run(RECIPES[name], gpu as TensorBackend<unknown>);
      expect(got.reads.large).toBeGreaterThan(10);
      expect(got.reads.staged).toBeGreaterThan(got.reads.large * 0.8);
      for (const [file, bytes] of want.out.files)
        expect(firstDifference(got.out.files.get(file), bytes), `${name} ${file}`).toBe(-1);
      // The same backend merges again, reusing its staging buffers.
      const again = await run(RECIPES[name], gpu as TensorBackend<unknown>);
      expect(again.reads.staged).toBe(got.reads.staged);
      for (const [file, bytes] of want.out.files)
        expect(firstDifference(again.out.files.get(file), bytes), `${name} again ${file}`).toBe(-1);
    } finally {
      await gpu.dispose();
    }
  });

  it('a failed read gives its staging buffer back; the next merge on the backend is right', async () => {
    const want = await run(RECIPES.ta, new CpuBackend() as TensorBackend<unknown>);
    const gpu = await gpuBackend();
    try {
      await expect(run(RECIPES.ta, gpu as TensorBackend<unknown>, 20)).rejects.toThrow(/the disk went away/);
      const got = await run(RECIPES.ta, gpu as TensorBackend<unknown>);
      expect(got.reads.staged).toBeGreaterThan(got.reads.large * 0.8);
      for (const [file, bytes] of want.out.files)
        expect(firstDifference(got.out.files.get(file), bytes), file).toBe(-1);
    } finally {
      await gpu.dispose();
    }
  });
});
