/**
 * issue 19 on WebGPU (lavapipe): arcee_fusion against mergekit's formula and byte for byte against
 * the CPU reference (its quantiles are exact radix selections on the GPU), whole and chunked.
 */
import { describe, expect, it } from 'vitest';
import { FUSION_SHAPES, fusionRef, runFusion } from '../helpers/arcee-fusion-reference';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

describe('arcee_fusion on WebGPU', () => {
  const backends = useGpuPair();

  it('matches mergekit’s formula and the CPU reference’s bytes', async () => {
    for (const dtype of ['F32', 'BF16'] as const) {
      const cpu = await runFusion(dtype);
      const g = await runFusion(dtype, { backend: backends.gpu });
      const gc = await runFusion(dtype, { backend: backends.tight, chunkElements: 5 });
      expect(g.summary.backend).toMatch(/^webgpu/);
      for (const name of Object.keys(FUSION_SHAPES)) {
        const { values } = fusionRef(name, dtype);
        (await g.tensor(name)).forEach((v, i) =>
          expect(Math.abs(v - values[i]!), `${name}[${i}]`).toBeLessThanOrEqual(
            1e-6 * Math.max(1, Math.abs(values[i]!)),
          ),
        );
        for (const r of [g, gc])
          expect(Buffer.from(await r.raw(name)).equals(Buffer.from(await cpu.raw(name))), name).toBe(true);
      }
    }
  });
});
