/**
 * Picks the merge backend for the CLI.
 * - `webgpu`: Dawn's WebGPU in Node (lavapipe on a GPU-less machine); fails when there is no adapter.
 * - `auto` (the default): WebGPU when an adapter is found, saying which; otherwise the CPU
 *   reference, with a notice that says why.
 * - `cpu`: the plain-TS reference backend.
 */
import type { TensorBackend } from '../core/merge/backend';
import { CpuBackend } from '../core/merge/cpu-backend';
import { UsageError } from './args';

export type BackendChoice = 'auto' | 'cpu' | 'webgpu';

export interface SelectedBackend {
  backend: TensorBackend<unknown>;
  /** What to tell the user about the choice (adapter name, or why it fell back). */
  notice: string;
}

const HINT = 'on a machine without a GPU, run `bash scripts/setup-vulkan.sh` (lavapipe from Mesa 25) or set VK_ICD_FILENAMES';

async function tryWebGpu(): Promise<{ backend?: TensorBackend<unknown>; why?: string }> {
  try {
    const { createNodeWebGpuBackend } = await import('../gpu/node');
    const backend = await createNodeWebGpuBackend();
    return { backend: backend as TensorBackend<unknown> };
  } catch (e) {
    return { why: (e as Error).message };
  }
}

function describeGpu(b: TensorBackend<unknown>): string {
  const a = (b as { adapter?: { limits: { maxStorageBufferBindingSize: number } } }).adapter;
  const limit = a ? `, storage binding ${Math.round(a.limits.maxStorageBufferBindingSize / 2 ** 20)} MiB` : '';
  return `backend: ${b.name}${limit}`;
}

export async function selectBackend(choice: string): Promise<SelectedBackend> {
  if (choice !== 'auto' && choice !== 'cpu' && choice !== 'webgpu') throw new UsageError(`--backend must be auto, cpu or webgpu (got '${choice}')`);
  if (choice === 'cpu') return { backend: new CpuBackend() as TensorBackend<unknown>, notice: 'backend: cpu (reference)' };
  const { backend, why } = await tryWebGpu();
  if (backend) return { backend, notice: describeGpu(backend) };
  if (choice === 'webgpu') throw new UsageError(`--backend webgpu: ${why}; ${HINT}`);
  return {
    backend: new CpuBackend() as TensorBackend<unknown>,
    notice: `notice: no WebGPU adapter (${why}); falling back to the CPU reference backend, which is slower. ${HINT}.`,
  };
}
