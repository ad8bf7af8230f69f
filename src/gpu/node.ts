/**
 * The merge engine's WebGPU backend in Node (CLI, tests, benchmarks); never imported by browser
 * code. Dawn and its environment come from src/node/webgpu-env.ts.
 */
import { nodeGpu } from '../node/webgpu-env';
import { type WebGpuBackendOptions, WebGpuBackend } from './backend';

export async function createNodeWebGpuBackend(opts?: WebGpuBackendOptions): Promise<WebGpuBackend> {
  return WebGpuBackend.create(await nodeGpu(), opts);
}
