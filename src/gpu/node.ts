/**
 * WebGPU in Node through Dawn's `webgpu` package (CLI, tests, benchmarks). Never imported by
 * browser code. Points the Vulkan loader at the project's lavapipe (scripts/setup-vulkan.sh)
 * when VK_ICD_FILENAMES is not set, and gives Dawn a private XDG_RUNTIME_DIR.
 */
import { existsSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type WebGpuBackendOptions, WebGpuBackend } from './backend';

export const PROJECT_ICD = fileURLToPath(new URL('../../.cache/vulkan/lvp_icd.json', import.meta.url));

/** Sets VK_ICD_FILENAMES / XDG_RUNTIME_DIR for Dawn when unset. Returns the ICD in use, if any. */
export function ensureVulkanEnv(): string | undefined {
  if (!process.env.VK_ICD_FILENAMES && existsSync(PROJECT_ICD)) process.env.VK_ICD_FILENAMES = PROJECT_ICD;
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = path.join(tmpdir(), `merge-lab-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o700);
    process.env.XDG_RUNTIME_DIR = dir;
  }
  return process.env.VK_ICD_FILENAMES;
}

let gpu: Promise<GPU> | undefined;

/** Dawn's navigator.gpu for this process (created once). */
export function nodeGpu(): Promise<GPU> {
  gpu ??= (async () => {
    ensureVulkanEnv();
    const { create } = await import('webgpu');
    return create([]) as GPU;
  })();
  return gpu;
}

export async function createNodeWebGpuBackend(opts?: WebGpuBackendOptions): Promise<WebGpuBackend> {
  return WebGpuBackend.create(await nodeGpu(), opts);
}
