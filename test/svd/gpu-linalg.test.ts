/**
 * GPU linear algebra on a real adapter (Dawn + lavapipe in Node): shaders/matmul.wgsl against its
 * CPU twin for odd shapes, all four transpose combinations, with and without C₀, whole and split
 * into blocks under a tiny binding limit; then the randomized SVD with every product on the GPU,
 * held to the same known-spectrum criteria as on the CPU. No adapter: FAILS under CI (gpu-env).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jacobiSvd } from '../../src/core/kernels/jacobi-svd';
import { matmul } from '../../src/core/kernels/matmul';
import { randomizedSvd } from '../../src/core/linalg/rsvd';
import { type GpuDevice, isSoftwareAdapter, requestGpuDevice } from '../../src/gpu/device';
import { GpuMatOps, type MatmulVariant } from '../../src/gpu/linalg';
import { nodeGpu } from '../../src/node/webgpu-env';
import { randomFloats } from '../helpers/checkpoints';
import { requireGpu } from '../gpu/gpu-env';
import { CASES, frobenius, orthogonalityError, residual, withSpectrum } from './spectra';

await requireGpu();

let dev: GpuDevice;
let ops: GpuMatOps; // the variant this adapter gets
const variants = {} as Record<MatmulVariant, { whole: GpuMatOps; tight: GpuMatOps }>;
beforeAll(async () => {
  dev = await requestGpuDevice(await nodeGpu());
  for (const variant of ['tiled', 'registers'] as const)
    variants[variant] = {
      whole: await GpuMatOps.create(dev.device, { variant }),
      tight: await GpuMatOps.create(dev.device, { variant, maxBindingBytes: 4096 }),
    };
  ops = variants[isSoftwareAdapter(dev.adapter.name) ? 'registers' : 'tiled'].whole;
});
afterAll(() => dev?.device.destroy());

/** |gpu − cpu| ≤ (k + 2)·2⁻²³·(|A||B|)_ij: the f32 dot-product error bound, elementwise. */
async function parity(
  o: GpuMatOps,
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
  withAcc: boolean,
  seed: number,
) {
  const a = randomFloats(m * k, seed, 1);
  const b = randomFloats(k * n, seed + 1, 1);
  const c0 = withAcc ? randomFloats(m * n, seed + 2, 1) : undefined;
  const want = matmul(a, b, m, k, n, ta, tb, c0);
  const scale = matmul(a.map(Math.abs), b.map(Math.abs), m, k, n, ta, tb, c0?.map(Math.abs));
  const [ha, hb] = [await o.upload(a), await o.upload(b)];
  const hc = c0 ? await o.upload(c0) : undefined;
  const out = await o.matmul(ha, hb, m, k, n, ta, tb, hc);
  const got = await o.download(out);
  for (const h of [ha, hb, out, ...(hc ? [hc] : [])]) o.release(h);
  expect(got.length).toBe(m * n);
  let worst = 0;
  for (let i = 0; i < m * n; i++)
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / ((k + 2) * 1.2e-7 * scale[i]! + 1e-30));
  expect(worst, `${m}×${k}×${n} tA=${ta} tB=${tb} acc=${withAcc}`).toBeLessThanOrEqual(1);
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [65, 17, 129],
  [130, 200, 67],
  [1, 300, 1],
  [257, 3, 66],
];

describe.each(['tiled', 'registers'] as const)('matmul.wgsl (%s) against the CPU twin', (variant) => {
  it('odd shapes, every transpose combination, with and without C₀', async () => {
    let seed = 1;
    for (const [m, k, n] of SHAPES)
      for (const ta of [false, true])
        for (const tb of [false, true]) await parity(variants[variant].whole, m, k, n, ta, tb, seed % 2 === 0, seed++);
  });

  it('operands over the binding limit are split into blocks (rows, columns and K)', async () => {
    const tight = variants[variant].tight;
    expect(tight.linalg.planBlocks({ m: 100, k: 70, n: 90, transA: true, transB: false }).length).toBeGreaterThan(8);
    let seed = 100;
    for (const ta of [false, true])
      for (const tb of [false, true])
        for (const acc of [false, true]) await parity(tight, 100, 70, 90, ta, tb, acc, seed++);
    await parity(tight, 3, 2000, 5, true, false, true, 200); // long K: accumulation across blocks
  });
});

describe('randomized SVD with its products on the GPU (f32)', () => {
  it('blocked products (16 KiB binding limit) give the same factorisation', async () => {
    const c = CASES[1]!;
    const A = withSpectrum(c.m, c.n, c.sigma, 42);
    const run = async (o: GpuMatOps) => {
      const h = await o.upload(A);
      const r = await randomizedSvd(o, h, c.m, c.n, { rank: c.k, seed: 9 });
      for (const x of [h, r.U, r.V]) o.release(x);
      return r.s;
    };
    const tight = await GpuMatOps.create(dev.device, { variant: ops.linalg.variant, maxBindingBytes: 16384 });
    const [whole, blocked] = [await run(ops), await run(tight)];
    expect(
      tight.linalg.planBlocks({ m: c.m, k: c.n, n: c.k + 10, transA: false, transB: false }).length,
    ).toBeGreaterThan(2);
    whole.forEach((x, i) => expect(Math.abs(x - blocked[i]!)).toBeLessThan(1e-5 * whole[0]!));
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const A = withSpectrum(c.m, c.n, c.sigma, 42);
      const exact = jacobiSvd(A, c.m, c.n);
      const optimal = Math.sqrt(exact.s.slice(c.k).reduce((s, x) => s + x * x, 0));
      const h = await ops.upload(A);
      const r = await randomizedSvd(ops, h, c.m, c.n, { rank: c.k, oversample: 10, powerIters: 2, seed: 9 });
      const U = await ops.download(r.U);
      const V = await ops.download(r.V);
      for (const x of [h, r.U, r.V]) ops.release(x);
      const err = residual(A, U, r.s, V, c.m, c.n, c.k);
      expect(err, `error ${err} vs optimal ${optimal}`).toBeLessThanOrEqual(1.02 * optimal + 1e-5 * frobenius(A));
      for (let i = 0; i < c.k; i++) {
        const tol = exact.s[i]! > 1e-4 * exact.s[0]! ? 1e-3 * exact.s[i]! : 1e-4 * exact.s[0]!;
        expect(Math.abs(r.s[i]! - exact.s[i]!), `σ_${i}`).toBeLessThanOrEqual(tol);
      }
      expect(orthogonalityError(U, c.m, c.k)).toBeLessThanOrEqual(1e-4);
      expect(orthogonalityError(V, c.n, c.k)).toBeLessThanOrEqual(1e-4);
    });
  }
});
