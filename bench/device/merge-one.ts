/**
 * One WebGPU merge of the generated checkpoints (base and two fine-tunes) through the engine's
 * merge() entry point, as the CLI runs it, in its own process so the peak RSS is its own. The
 * recipes are bench:merge's TA and TIES; the output is written, then removed.
 */
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import type { TensorBackend } from '../../src/core/merge/backend';
import { merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { createNodeWebGpuBackend } from '../../src/node/webgpu-backend';
import { FsModelFolder, FsOutputFolder } from '../../src/node/fs-folder';
import { fail, peakRssBytes, saveResult } from './common';

/** The same recipes as bench/merge-run.ts and bench/device/merge_torch.py. */
export const DEVICE_RECIPES: Record<string, string> = {
  ta: `merge_method: task_arithmetic
base_model: base
models:
  - {model: ft1, parameters: {weight: 0.5}}
  - {model: ft2, parameters: {weight: 0.5}}`,
  ties: `merge_method: ties
base_model: base
models:
  - {model: ft1, parameters: {weight: 0.5, density: 0.3}}
  - {model: ft2, parameters: {weight: 0.5, density: 0.3}}`,
};

export interface MergeResult {
  engine: 'webgpu';
  method: string;
  backend: string;
  tensors: number;
  seconds: number;
  bytesRead: number;
  bytesWritten: number;
  peakRssBytes: number;
}

export async function mergeStep(o: { data: string; method: string }): Promise<void> {
  const text = DEVICE_RECIPES[o.method] ?? fail(`--method must be ta or ties (got '${o.method}')`, 2);
  const { recipe } = parseRecipe(text);
  const sources = new Map<string, Checkpoint>();
  for (const m of ['base', 'ft1', 'ft2'])
    sources.set(m, await Checkpoint.open(new FsModelFolder(path.join(o.data, m))));
  const backend = (await createNodeWebGpuBackend()) as TensorBackend<unknown>;
  const outDir = path.join(o.data, `out-webgpu-${o.method}`);
  rmSync(outDir, { recursive: true, force: true });
  try {
    const s = await merge(recipe, sources, backend, new FsOutputFolder(outDir));
    saveResult(`merge-webgpu-${o.method}`, {
      engine: 'webgpu',
      method: o.method,
      backend: s.backend,
      tensors: s.tensors,
      seconds: s.ms / 1000,
      bytesRead: s.bytesRead,
      bytesWritten: s.bytesWritten,
      peakRssBytes: peakRssBytes(),
    } satisfies MergeResult);
  } finally {
    await backend.dispose?.();
    for (const c of sources.values()) await c.close?.();
    rmSync(outDir, { recursive: true, force: true });
  }
}
