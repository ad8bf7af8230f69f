/** Runs the real merge entry point on small in-memory checkpoints and reads the result back. */
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { SafetensorsFile } from '../../src/core/formats/safetensors';
import { MapModelFolder, MemoryByteSource } from '../../src/core/io/byte-source';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import type { TensorBackend } from '../../src/core/merge/backend';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { type MergeOptions, type MergeSummary, merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { encodeSafetensors } from './checkpoints';

/** A checkpoint holding the given tensors (all `dtype`). */
export async function valuesCheckpoint(
  name: string,
  tensors: Record<string, { shape: number[]; values: ArrayLike<number> }>,
  dtype: DType = 'F32',
) {
  const raw = Object.entries(tensors).map(([n, t]) => ({
    name: n,
    dtype,
    shape: t.shape,
    bytes: encodeFromF32(Float32Array.from(t.values), dtype),
  }));
  return Checkpoint.open(new MapModelFolder(name, new Map([['model.safetensors', encodeSafetensors(raw)]])));
}

export interface MergeResult {
  out: MemoryOutputFolder;
  summary: MergeSummary;
  tensor(name: string): Promise<Float32Array>;
  raw(name: string): Promise<Uint8Array>;
}

export async function readOutputTensor(
  out: MemoryOutputFolder,
  name: string,
): Promise<{ values: Float32Array; bytes: Uint8Array; dtype: DType }> {
  const indexBytes = out.files.get('model.safetensors.index.json');
  const file = indexBytes ? JSON.parse(new TextDecoder().decode(indexBytes)).weight_map[name] : 'model.safetensors';
  const st = await SafetensorsFile.open(new MemoryByteSource(out.files.get(file)!, file));
  const bytes = await st.readRange(name);
  return { values: decodeToF32(bytes, st.info(name).dtype), bytes, dtype: st.info(name).dtype };
}

export async function runMerge(
  yaml: string,
  models: Checkpoint[],
  opts: MergeOptions & { backend?: TensorBackend<unknown> } = {},
): Promise<MergeResult> {
  const { recipe } = parseRecipe(yaml);
  const out = new MemoryOutputFolder();
  const summary = await merge(
    recipe,
    new Map(models.map((m) => [m.name, m])),
    opts.backend ?? new CpuBackend(),
    out,
    opts,
  );
  return {
    out,
    summary,
    tensor: async (n) => (await readOutputTensor(out, n)).values,
    raw: async (n) => (await readOutputTensor(out, n)).bytes,
  };
}
