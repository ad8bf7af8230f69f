/**
 * The q4 packer for the page's weights cache: the WGSL kernel (shaders/q4-pack.wgsl, bit-exact
 * with the CPU spec) on this worker's GPU. `auto` uses it on a hardware adapter only (a
 * CPU-emulated adapter packs slower than the CPU spec); `webgpu` uses any adapter or fails.
 */
import type { ProduceOptions } from '../infer/derived-weights';
import { InferError } from '../infer/errors';
import { type RuntimeAdapter, probeWebGpu } from '../infer/runtime';
import { WebGpuBackend } from '../gpu/backend';

export type PackerChoice = 'auto' | 'cpu' | 'webgpu';

export interface GpuPacker {
  packQ4: NonNullable<ProduceOptions['packQ4']>;
  /** The adapter it runs on. */
  adapter: string;
  dispose(): Promise<void>;
}

export async function gpuPacker(
  choice: PackerChoice,
  adapter: RuntimeAdapter,
  signal?: AbortSignal,
): Promise<GpuPacker | undefined> {
  if (choice === 'cpu') return undefined;
  const probe = await probeWebGpu(adapter);
  if (!probe.ok || (choice === 'auto' && probe.software)) {
    if (choice === 'webgpu')
      throw new InferError(
        'unsupported-feature',
        `the WebGPU q4 packer was requested but ${probe.ok ? '' : probe.reason}`,
        {
          field: 'packer',
        },
      );
    return undefined;
  }
  const backend = await WebGpuBackend.create(await adapter.gpu?.());
  return {
    adapter: probe.adapter,
    packQ4: (raw, dtype, n, k, blockSize, tensor) =>
      backend.packQ4({ bytes: raw, dtype }, n, k, blockSize, { tensor, ...(signal && { signal }) }),
    dispose: () => backend.dispose(),
  };
}
