/**
 * issue 19 on WebGPU (lavapipe): DELLA / DELLA-linear against the independent f64 statement of
 * mergekit's della_magprune (test/helpers/della-reference.ts) and byte for byte against the CPU
 * reference, whole and in chunks that split rows on a windowed adapter; the per-element Bernoulli
 * mask bit-identical to its CPU twin.
 */
import { describe, expect, it } from 'vitest';
import { BERNOULLI_MASK, bernoulliMask } from '../../src/core/kernels/bernoulli-mask';
import { randomFloats } from '../helpers/checkpoints';
import { DELLA_SHAPES, dellaCase, dellaRef } from '../helpers/della-reference';
import { runMerge } from '../helpers/merge-harness';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

describe('DELLA on WebGPU', () => {
  const backends = useGpuPair();
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

  it('every case matches mergekit’s formulas and the CPU reference’s bytes (whole and in row-splitting chunks)', async () => {
    for (const c of dellaCase.all) {
      const cpu = await runMerge(c.yaml, await c.checkpoints());
      const g = await runMerge(c.yaml, await c.checkpoints(), { backend: backends.gpu });
      const gc = await runMerge(c.yaml, await c.checkpoints(), { backend: backends.tight, chunkElements: 7 });
      expect(g.summary.backend).toMatch(/^webgpu/);
      for (const [name, shape] of Object.entries(DELLA_SHAPES)) {
        const want = dellaRef(c, name, shape);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        (await g.tensor(name)).forEach((v, i) =>
          expect(Math.abs(v - want[i]!), `${c.name} ${name}[${i}]`).toBeLessThanOrEqual(2e-6 * scale),
        );
        expect(same(await g.raw(name), await cpu.raw(name)), `${c.name} ${name}`).toBe(true);
        expect(same(await gc.raw(name), await cpu.raw(name)), `${c.name} ${name} chunked`).toBe(true);
      }
    }
  });

  it('the per-element Bernoulli mask is bit-identical to its CPU twin', async () => {
    for (const [n, be] of [
      [1003, backends.gpu],
      [300_001, backends.tight],
    ] as const) {
      const x = randomFloats(n, 3);
      const keep = randomFloats(n, 4).map((v) => Math.round(Math.abs(v) * 2 ** 24) % (2 ** 24 + 1));
      keep.set([0, 2 ** 24, 1, 2 ** 24 - 1], 0);
      const up = (v: Float32Array) => be.load(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), 'F32');
      const [tx, tk] = [await up(x), await up(keep)];
      for (const p of [
        { seed: 0, stream: 1, offset: 0 },
        { seed: 123, stream: 0xdeadbeef, offset: 4_294_967_000 },
      ]) {
        const out = await be.elementwise(BERNOULLI_MASK, [tx, tk], p);
        const bytes = await be.store(out, 'F32');
        be.release(out);
        const want = bernoulliMask(x, keep, p.seed, p.stream, p.offset);
        expect(same(bytes, new Uint8Array(want.buffer)), `n=${n} ${JSON.stringify(p)}`).toBe(true);
      }
      be.release(tx);
      be.release(tk);
    }
  });
});
