/**
 * The device check's first step: which WebGPU adapter Dawn finds (with the Vulkan ICD the runner
 * chose), whether it is a CPU implementation, and the limits and features that matter here. Exits
 * 3 with one line when there is no adapter, so the runner can stop before anything else.
 */
import { isSoftwareAdapter } from '../../src/gpu/device';
import { nodeGpu } from '../../src/node/webgpu-env';
import { fail, saveResult } from './common';

export interface AdapterResult {
  name: string;
  vendor: string;
  architecture: string;
  device: string;
  driver: string;
  software: boolean;
  shaderF16: boolean;
  maxBufferMiB: number;
  maxStorageBindingMiB: number;
  icd: string;
  node: string;
}

export async function adapterStep(): Promise<void> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await (await nodeGpu()).requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    fail(`no GPU adapter: Dawn could not start (${(e as Error).message.split('\n')[0]})`, 3);
  }
  const icd = process.env.VK_ICD_FILENAMES ?? 'unset';
  if (!adapter) fail(`no GPU adapter: Dawn found no WebGPU adapter (VK_ICD_FILENAMES=${icd})`, 3);
  const i = adapter.info;
  const name = i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(' ') || 'unknown adapter';
  const result: AdapterResult = {
    name,
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    driver: i.description,
    software: isSoftwareAdapter(`${name} ${i.device} ${i.architecture}`),
    shaderF16: adapter.features.has('shader-f16'),
    maxBufferMiB: adapter.limits.maxBufferSize / 2 ** 20,
    maxStorageBindingMiB: adapter.limits.maxStorageBufferBindingSize / 2 ** 20,
    icd,
    node: process.version,
  };
  saveResult('adapter', result);
}
