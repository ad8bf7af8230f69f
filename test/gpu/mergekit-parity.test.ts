/**
 * issue 19 on WebGPU (lavapipe): the mergekit-parity cases against the independent mergekit
 * reference and byte for byte against the CPU reference (whole and in odd chunks, on a windowed
 * adapter too), the tie-bounded magnitude band and the fixed-point L1 digits against their CPU
 * twins, and exact top-k cuts with ties straddling chunks.
 */
import { describe, expect, it } from 'vitest';
import { ABS_DIGITS, absDigits } from '../../src/core/kernels/abs-digits';
import { MAGNITUDE_BAND, magnitudeBand } from '../../src/core/kernels/magnitude-band';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { topKCut } from '../../src/core/merge/select';
import type { GpuTensor, WebGpuBackend } from '../../src/gpu/backend';
import { randomFloats } from '../helpers/checkpoints';
import { PARITY_CASES, expectMatchesReference, expectedTensors, runCase } from '../helpers/mergekit-cases';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

describe('mergekit parity on WebGPU', () => {
  const backends = useGpuPair();

  const up = (be: WebGpuBackend, x: Float32Array) =>
    be.load(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), 'F32');
  const down = async (be: WebGpuBackend, t: GpuTensor) => {
    const b = await be.store(t, 'F32');
    be.release(t);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

  it('every case matches mergekit’s formulas and the CPU reference’s bytes (whole and chunked)', async () => {
    for (const c of PARITY_CASES) {
      const cpu = await runCase(c);
      const g = await runCase(c, { backend: backends.gpu });
      expect(g.summary.backend).toMatch(/^webgpu/);
      await expectMatchesReference(c, g, `webgpu ${c.name}`);
      const gc = await runCase(c, { backend: backends.tight, chunkElements: 29 });
      for (const name of Object.keys(expectedTensors(c))) {
        expect(same(await g.tensor(name), await cpu.tensor(name)), `${c.name} ${name}`).toBe(true);
        expect(same(await gc.tensor(name), await cpu.tensor(name)), `${c.name} ${name} chunked`).toBe(true);
      }
    }
  });

  it('the tie-bounded magnitude band and the L1 digits are bit-identical to their CPU twins', async () => {
    for (const [n, be] of [
      [1003, backends.gpu],
      [300_001, backends.tight],
    ] as const) {
      const x = randomFloats(n, 7).map((v) => Math.round(v * 16) / 16); // many ties
      x.set([NaN, Infinity, -Infinity, -0, 1e-40, -3e-39], 2);
      const t = await up(be, x);
      for (const p of [
        { lo: 0.5, hi: Infinity, loEnd: 517, hiEnd: 0, offset: 0 },
        { lo: 0.25, hi: 0.75, loEnd: 900, hiEnd: 40, offset: 100 },
        { lo: 0.5, hi: 0.5, loEnd: 0xffffffff, hiEnd: 12, offset: 4_294_967_000 },
        { lo: Infinity, hi: Infinity, loEnd: 0, hiEnd: 0, offset: 3 },
      ]) {
        const g = await down(be, await be.elementwise(MAGNITUDE_BAND, [t], p));
        expect(same(g, magnitudeBand(x, p.lo, p.hi, p.loEnd, p.hiEnd, p.offset)), `n=${n} ${JSON.stringify(p)}`).toBe(
          true,
        );
      }
      for (const low of [-16, -32, -48, -140, -160, 120]) {
        const g = await down(be, await be.elementwise(ABS_DIGITS, [t], { low }));
        expect(same(g, absDigits(x, low)), `n=${n} digits at 2^${low}`).toBe(true);
      }
      be.release(t);
    }
  });

  it('exact top-k cuts with ties straddling chunk boundaries agree with the CPU', async () => {
    const cpu = new CpuBackend();
    const x = randomFloats(5000, 11).map((v) => Math.round(v * 8) / 8);
    const chunk = 777;
    const parts = Array.from({ length: Math.ceil(x.length / chunk) }, (_, c) => x.slice(c * chunk, (c + 1) * chunk));
    const gparts = await Promise.all(parts.map((p) => up(backends.gpu, p)));
    for (const k of [1, 100, 1234, 2500, 4999, 5000]) {
      const visit =
        <T>(ps: T[]) =>
        async (v: (x: T, c: number) => Promise<void>, only?: number) => {
          for (let c = 0; c < ps.length; c++) if (only === undefined || only === c) await v(ps[c]!, c);
        };
      const g = await topKCut(backends.gpu, visit(gparts), chunk, k);
      const c = await topKCut(cpu, visit(parts), chunk, k);
      expect(g, `k=${k}`).toEqual(c);
      // The cut holds exactly k elements.
      const inCut = [...x].filter((v, i) => Math.abs(v) > c.value || (Math.abs(v) === c.value && i < c.tieEnd));
      expect(inCut.length, `k=${k}`).toBe(k);
    }
    gparts.forEach((p) => backends.gpu.release(p));
  });
});
