/** Picks the merge backend for the CLI: `cpu` (the reference) or, where registered, `webgpu`. */
import type { TensorBackend } from '../core/merge/backend';
import { CpuBackend } from '../core/merge/cpu-backend';
import { UsageError } from './args';

export type BackendChoice = 'auto' | 'cpu' | 'webgpu';

export interface SelectedBackend {
  backend: TensorBackend<unknown>;
  /** What to tell the user about the choice (adapter name, or why it fell back). */
  notice: string;
}

export async function selectBackend(choice: string): Promise<SelectedBackend> {
  if (choice !== 'auto' && choice !== 'cpu' && choice !== 'webgpu') throw new UsageError(`--backend must be auto, cpu or webgpu (got '${choice}')`);
  if (choice === 'webgpu') throw new UsageError('--backend webgpu: the WebGPU backend is not built yet; use --backend cpu');
  return { backend: new CpuBackend() as TensorBackend<unknown>, notice: choice === 'auto' ? 'backend: cpu (WebGPU backend not available in this build)' : 'backend: cpu' };
}
