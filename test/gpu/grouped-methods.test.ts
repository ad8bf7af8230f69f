/**
 * issue 19 on WebGPU (lavapipe): model_stock and nuslerp against the f64 statements of mergekit's
 * formulas (test/helpers/grouped-reference.ts) and the CPU reference, whole and in chunks on a
 * windowed adapter.
 */
import { describe, expect, it } from 'vitest';
import { GROUPED_CASES, GROUPED_SHAPES, groupedRef } from '../helpers/grouped-reference';
import { runMerge } from '../helpers/merge-harness';
import { expectParity } from './parity';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

describe('model_stock and nuslerp on WebGPU', () => {
  const backends = useGpuPair();

  it('every case matches mergekit’s formulas and the CPU reference (whole and chunked)', async () => {
    for (const c of GROUPED_CASES) {
      const cpu = await runMerge(c.yaml, await c.checkpoints());
      const g = await runMerge(c.yaml, await c.checkpoints(), { backend: backends.gpu });
      const gc = await runMerge(c.yaml, await c.checkpoints(), { backend: backends.tight, chunkElements: 3 });
      expect(g.summary.backend).toMatch(/^webgpu/);
      for (const name of Object.keys(GROUPED_SHAPES)) {
        const want = groupedRef(c, name);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        (await g.tensor(name)).forEach((v, i) =>
          expect(Math.abs(v - want[i]!), `${c.name} ${name}[${i}]`).toBeLessThanOrEqual(2e-6 * scale),
        );
      }
      await expectParity(g, cpu, Object.keys(GROUPED_SHAPES), c.name);
      await expectParity(gc, cpu, Object.keys(GROUPED_SHAPES), `${c.name} chunked`);
    }
  });
});
