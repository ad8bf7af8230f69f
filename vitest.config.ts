import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Real WebGPU in Node: Dawn (`webgpu` package) on lavapipe from Mesa 25, installed by
// scripts/setup-vulkan.sh into .cache/vulkan. The Vulkan loader reads these variables when Dawn
// starts, so they must be set here (before vitest forks its workers), not inside a test file.
const icd = path.join(path.dirname(fileURLToPath(import.meta.url)), '.cache/vulkan/lvp_icd.json');
if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
// vitest runs test files in parallel forks: one lavapipe thread per device avoids oversubscribing
// the cores (lavapipe's worker threads spin at barriers; oversubscribed, the GPU suite runs 3× slower).
process.env.LP_NUM_THREADS ??= '1';
if (!process.env.XDG_RUNTIME_DIR) {
  const dir = path.join(tmpdir(), `merge-lab-xdg-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  process.env.XDG_RUNTIME_DIR = dir;
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
