/**
 * issue 19 on WebGPU (lavapipe): SCE against the f64 statement of mergekit's sce_merge
 * (test/helpers/sce-reference.ts) and the CPU reference, whole and in chunks on a windowed adapter;
 * its two kernels (squared deviation, keep-where) bit-identical to their CPU twins.
 */
import { describe, expect, it } from 'vitest';
import { KEEP_WHERE, keepWhere } from '../../src/core/kernels/keep-where';
import { SQUARED_DEVIATION, squaredDeviation } from '../../src/core/kernels/squared-deviation';
import { randomFloats } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { SCE_CASES, SCE_SHAPES, sceRef } from '../helpers/sce-reference';
import { expectParity } from './parity';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

describe('SCE on WebGPU', () => {
  const backends = useGpuPair();

  it('every case matches mergekit’s formulas and the CPU reference (whole and chunked)', async () => {
    for (const c of SCE_CASES) {
      const cpu = await runMerge(c.yaml, await c.checkpoints());
      const g = await runMerge(c.yaml, await c.checkpoints(), { backend: backends.gpu });
      const gc = await runMerge(c.yaml, await c.checkpoints(), { backend: backends.tight, chunkElements: 3 });
      expect(g.summary.backend).toMatch(/^webgpu/);
      for (const name of Object.keys(SCE_SHAPES)) {
        const want = sceRef(c, name);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        (await g.tensor(name)).forEach((v, i) =>
          expect(Math.abs(v - want[i]!), `${c.name} ${name}[${i}]`).toBeLessThanOrEqual(2e-6 * scale),
        );
      }
      await expectParity(g, cpu, Object.keys(SCE_SHAPES), c.name);
      await expectParity(gc, cpu, Object.keys(SCE_SHAPES), `${c.name} chunked`);
    }
  });

  it('squared deviation and keep-where are bit-identical to their CPU twins', async () => {
    for (const [n, be] of [
      [1003, backends.gpu],
      [300_001, backends.tight],
    ] as const) {
      const [x, mean, acc] = [randomFloats(n, 1), randomFloats(n, 2), randomFloats(n, 3)];
      const key = randomFloats(n, 4).map((v) => (v > 0.2 ? v : 0));
      x.set([NaN, Infinity, -0, 1e-40], 0);
      key.set([NaN, 0, -0, 1e-40], 4);
      const up = (v: Float32Array) => be.load(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), 'F32');
      const down = async (t: Awaited<ReturnType<typeof up>>) => {
        const b = await be.store(t, 'F32');
        be.release(t);
        return Buffer.from(b);
      };
      const [tx, tm, ta, tk] = await Promise.all([x, mean, acc, key].map((v) => up(v)));
      const sq = await down(await be.elementwise(SQUARED_DEVIATION, [tx!, tm!, ta!], {}));
      expect(sq.equals(Buffer.from(squaredDeviation(x, mean, acc).buffer)), `squared deviation n=${n}`).toBe(true);
      const kept = await down(await be.elementwise(KEEP_WHERE, [tx!, tk!], {}));
      expect(kept.equals(Buffer.from(keepWhere(x, key).buffer)), `keep-where n=${n}`).toBe(true);
      [tx, tm, ta, tk].forEach((t) => be.release(t!));
    }
  });
});
