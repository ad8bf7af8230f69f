/**
 * issue 19 on WebGPU (lavapipe): ram and ramplus_tl against mergekit's formulas and the CPU
 * reference (ram-final divides in WGSL, within 2.5 ulp), whole and chunked.
 */
import { describe, expect, it } from 'vitest';
import { RAM_CASES, ramRef, runRam } from '../helpers/ram-reference';
import { expectParity } from './parity';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

describe('ram and ramplus_tl on WebGPU', () => {
  const backends = useGpuPair();

  it('every case matches mergekit’s formulas and the CPU reference', async () => {
    for (const c of RAM_CASES) {
      const label = `${c.method} ${c.dtype} ${JSON.stringify(c.params)}`;
      const want = ramRef(c);
      const cpu = await runRam(c);
      for (const g of [
        await runRam(c, { backend: backends.gpu }),
        await runRam(c, { backend: backends.tight, chunkElements: 7 }),
      ]) {
        (await g.tensor('w')).forEach((v, i) =>
          expect(Math.abs(v - want[i]!), `${label} [${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!))),
        );
        await expectParity(g, cpu, ['w'], label);
      }
    }
  });
});
