import { defineConfig } from 'vitest/config';

// `npm run test:scale`: gigabyte-scale checks (a Qwen2.5-1.5B-shaped checkpoint generated into
// .scale/), one file at a time so their memory figures do not overlap. Not part of `npm test`.
export default defineConfig({
  test: {
    include: ['test/scale/**/*.scale.test.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
