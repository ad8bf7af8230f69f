/**
 * The real WebGPU adapter for GPU tests (Dawn + lavapipe in Node; see scripts/setup-vulkan.sh).
 * No adapter: the tests fail, with the command that installs the driver.
 */
import type { WebGpuBackendOptions } from '../../src/gpu/backend';
import { WebGpuBackend } from '../../src/gpu/backend';
import { nodeGpu } from '../../src/gpu/node';

let probe: Promise<string | undefined> | undefined;

/** Undefined when a WebGPU adapter is available, else why not. */
export function gpuUnavailable(): Promise<string | undefined> {
  probe ??= (async () => {
    try {
      const gpu = await nodeGpu();
      const a = await gpu.requestAdapter();
      return a ? undefined : 'requestAdapter() returned null';
    } catch (e) {
      return (e as Error).message;
    }
  })();
  return probe;
}

/**
 * Call at the top of a GPU test file. No adapter is a failure, with the fix in the message:
 * GPU tests never skip (scripts/test.sh installs the driver, so CI always has one).
 */
export async function requireGpu(): Promise<void> {
  const why = await gpuUnavailable();
  if (!why) return;
  throw new Error(`NO WEBGPU ADAPTER (${why}). Run \`bash scripts/setup-vulkan.sh\` (lavapipe from Mesa 25) and set VK_ICD_FILENAMES, or run \`bash scripts/test.sh\`, which does both.`);
}

export async function gpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  return WebGpuBackend.create(await nodeGpu(), opts);
}

/** Limits lowered so that small tensors exercise windowing (binding limit) and 2-D grid folding. */
export const TIGHT: WebGpuBackendOptions = { maxBindingBytes: 512 * 1024, maxWorkgroupsPerDimension: 3 };
