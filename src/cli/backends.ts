/**
 * Picks the merge backend for the CLI.
 * - `webgpu`: Dawn's WebGPU in Node (lavapipe on a GPU-less machine); fails when there is no adapter.
 * - `auto` (the default): WebGPU when an adapter is found, saying which; otherwise the fast CPU
 *   backend, with a notice that says why.
 * - `cpu`: the fast CPU backend (src/core/merge/fast), byte-identical to the reference.
 * - `cpu-reference`: the plain-TS reference backend (the spec; tests and benches compare with it).
 */
import type { TensorBackend } from '../core/merge/backend';
import { CpuBackend } from '../core/merge/cpu-backend';
import { FastCpuBackend } from '../core/merge/fast/fast-cpu-backend';
import { DawnMissingError } from '../node/webgpu-env';
import { UsageError } from './args';

export type BackendChoice = 'auto' | 'cpu' | 'cpu-reference' | 'webgpu';
const CHOICES: readonly string[] = ['auto', 'cpu', 'cpu-reference', 'webgpu'];

export interface SelectedBackend {
  backend: TensorBackend<unknown>;
  /** Which kind ran: the CPU kinds can also run as tensor workers (merge --threads). */
  kind: 'cpu' | 'cpu-reference' | 'webgpu';
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
  if (!CHOICES.includes(choice))
    throw new UsageError(`--backend must be auto, cpu, cpu-reference or webgpu (got '${choice}')`);
  const fast = () => new FastCpuBackend() as TensorBackend<unknown>;
  if (choice === 'cpu') return { backend: fast(), kind: 'cpu', notice: 'backend: cpu (fast)' };
  if (choice === 'cpu-reference')
    return {
      backend: new CpuBackend() as TensorBackend<unknown>,
      kind: 'cpu-reference',
      notice: 'backend: cpu (reference)',
    };
  const attempt = await tryWebGpu();
  if ('backend' in attempt) return { backend: attempt.backend, kind: 'webgpu', notice: describeGpu(attempt.backend) };
  const { why, dawnMissing } = attempt;
  if (choice === 'webgpu')
    throw new UsageError(dawnMissing ? `--backend webgpu: ${why}` : `--backend webgpu: ${why}; ${HINT}`);
  const fallback = 'falling back to the CPU backend';
  return {
    backend: fast(),
    kind: 'cpu',
    notice: dawnMissing
      ? `notice: no WebGPU in Node: ${why}; ${fallback}.`
      : `notice: no WebGPU adapter (${why}); ${fallback}. ${HINT}.`,
  };
}
