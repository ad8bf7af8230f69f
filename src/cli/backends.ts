/**
 * Picks the merge backend for the CLI.
 * - `webgpu`: Dawn's WebGPU in Node (lavapipe on a GPU-less machine); fails when there is no adapter.
 * - `auto` (the default): WebGPU when an adapter is found, saying which; otherwise the CPU
 *   reference, with a notice that says why.
 * - `cpu`: the plain-TS reference backend.
 */
import type { TensorBackend } from '../core/merge/backend';
import { CpuBackend } from '../core/merge/cpu-backend';
import { DawnMissingError } from '../node/webgpu-env';
import { UsageError } from './args';

export type BackendChoice = 'auto' | 'cpu' | 'webgpu';

export interface SelectedBackend {
  backend: TensorBackend<unknown>;
  /** What to tell the user about the choice (adapter name, or why it fell back). */
  notice: string;
}

const HINT =
  'on a machine without a GPU, run `bash scripts/setup-vulkan.sh` (lavapipe from Mesa 25) or set VK_ICD_FILENAMES';

type Attempt = { backend: TensorBackend<unknown> } | { why: string; dawnMissing: boolean };

async function tryWebGpu(): Promise<Attempt> {
  try {
    const { createNodeWebGpuBackend } = await import('../node/webgpu-backend');
    return { backend: (await createNodeWebGpuBackend()) as TensorBackend<unknown> };
  } catch (e) {
    return { why: (e as Error).message, dawnMissing: e instanceof DawnMissingError };
  }
}

function describeGpu(b: TensorBackend<unknown>): string {
  const a = (b as { adapter?: { limits: { maxStorageBufferBindingSize: number } } }).adapter;
  const limit = a ? `, storage binding ${Math.round(a.limits.maxStorageBufferBindingSize / 2 ** 20)} MiB` : '';
  return `backend: ${b.name}${limit}`;
}

export async function selectBackend(choice: string): Promise<SelectedBackend> {
  if (choice !== 'auto' && choice !== 'cpu' && choice !== 'webgpu')
    throw new UsageError(`--backend must be auto, cpu or webgpu (got '${choice}')`);
  const cpu = () => new CpuBackend() as TensorBackend<unknown>;
  if (choice === 'cpu') return { backend: cpu(), notice: 'backend: cpu (reference)' };
  const attempt = await tryWebGpu();
  if ('backend' in attempt) return { backend: attempt.backend, notice: describeGpu(attempt.backend) };
  const { why, dawnMissing } = attempt;
  if (choice === 'webgpu')
    throw new UsageError(dawnMissing ? `--backend webgpu: ${why}` : `--backend webgpu: ${why}; ${HINT}`);
  const fallback = 'falling back to the CPU reference backend, which is slower';
  return {
    backend: cpu(),
    notice: dawnMissing
      ? `notice: no WebGPU in Node: ${why}; ${fallback}.`
      : `notice: no WebGPU adapter (${why}); ${fallback}. ${HINT}.`,
  };
}
