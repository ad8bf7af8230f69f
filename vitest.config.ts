import { configDefaults, defineConfig } from 'vitest/config';

// Real WebGPU in Node comes from src/node/webgpu-env.ts, as for the CLI: it points Vulkan at the
// project's lavapipe (.cache/vulkan, from scripts/setup-vulkan.sh) when VK_ICD_FILENAMES is unset.
// That only works on a process's main thread (a worker thread's process.env never reaches native
// code), so test files run in forked processes (`pool: 'forks'`), never in worker threads.
//
// The one variable set here is a test-runner policy, not environment discovery: test files run in
// parallel forks, and one lavapipe thread per device avoids oversubscribing the cores (lavapipe's
// worker threads spin at barriers; oversubscribed, the GPU suite runs 3× slower). The CLI keeps
// lavapipe's default (one thread per core). Set before the forks start so that they inherit it.
process.env.LP_NUM_THREADS ??= '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Gigabyte-scale checks run on their own: `npm run test:scale` (vitest.scale.config.ts).
    exclude: [...configDefaults.exclude, 'test/scale/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
