/**
 * The real WebGPU adapter for GPU tests (Dawn + lavapipe in Node; see scripts/setup-vulkan.sh).
 * No adapter: the tests FAIL when CI is set, and otherwise skip with a loud message.
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

/** Call at the top of a GPU test file: returns true when the file's tests must be skipped. */
export async function skipWithoutGpu(): Promise<boolean> {
  const why = await gpuUnavailable();
  if (!why) return false;
  const msg = `NO WEBGPU ADAPTER (${why}). Run \`bash scripts/setup-vulkan.sh\` (lavapipe from Mesa 25) and set VK_ICD_FILENAMES.`;
  if (process.env.CI) throw new Error(`${msg} GPU tests fail under CI.`);
  console.warn(`\n!!!!!!!!!! SKIPPING GPU TESTS: ${msg}\n`);
  return true;
}

export async function gpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  return WebGpuBackend.create(await nodeGpu(), opts);
}

/** Limits lowered so that small tensors exercise windowing (binding limit) and 2-D grid folding. */
export const TIGHT: WebGpuBackendOptions = { maxBindingBytes: 512 * 1024, maxWorkgroupsPerDimension: 3 };
