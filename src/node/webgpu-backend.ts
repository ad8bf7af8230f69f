/**
 * The merge engine's WebGPU backend in Node (CLI, tests, benchmarks), on Dawn as prepared by
 * ./webgpu-env.ts. Browser code creates its backend from `navigator.gpu` instead.
 */
import { type WebGpuBackendOptions, WebGpuBackend } from '../gpu/backend';
import { nodeGpu } from './webgpu-env';

export async function createNodeWebGpuBackend(opts?: WebGpuBackendOptions): Promise<WebGpuBackend> {
  return WebGpuBackend.create(await nodeGpu(), opts);
}
