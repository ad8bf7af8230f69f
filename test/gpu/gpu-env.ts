/**
 * The real WebGPU adapter for GPU tests (Dawn + lavapipe in Node, prepared by
 * src/node/webgpu-env.ts exactly as for the CLI). No adapter: the tests fail, with the command
 * that installs the driver.
 */
import { afterAll, beforeAll } from 'vitest';
import type { WebGpuBackend, WebGpuBackendOptions } from '../../src/gpu/backend';
import { createNodeWebGpuBackend } from '../../src/node/webgpu-backend';
import { probeNodeAdapter } from '../../src/node/webgpu-env';

/**
 * Call at the top of a GPU test file. No adapter is a failure, with the fix in the message:
 * GPU tests never skip (scripts/test.sh installs the driver, so CI always has one).
 */
export async function requireGpu(): Promise<void> {
  const probe = await probeNodeAdapter();
  if (probe.ok) return;
  throw new Error(
    `NO WEBGPU ADAPTER (${probe.reason}). Run \`bash scripts/setup-vulkan.sh\` (lavapipe from Mesa 25), ` +
      'or `bash scripts/test.sh`, which does it.',
  );
}

export const gpuBackend = (opts: WebGpuBackendOptions = {}) => createNodeWebGpuBackend(opts);

/** Limits lowered so that small tensors exercise windowing (binding limit) and 2-D grid folding. */
export const TIGHT: WebGpuBackendOptions = { maxBindingBytes: 512 * 1024, maxWorkgroupsPerDimension: 3 };

/** The plain and the windowed (TIGHT) backend, created before a describe block's tests and disposed after. */
export function useGpuPair(): { readonly gpu: WebGpuBackend; readonly tight: WebGpuBackend } {
  const pair = {} as { gpu: WebGpuBackend; tight: WebGpuBackend };
  beforeAll(async () => {
    pair.gpu = await gpuBackend();
    pair.tight = await gpuBackend(TIGHT);
  });
  afterAll(async () => {
    await pair.gpu?.dispose();
    await pair.tight?.dispose();
  });
  return pair;
}
