/**
 * Randomized SVD (CPU reference backend, f32 storage) against the exact one-sided Jacobi SVD on
 * matrices with known spectra. Issue 8's criteria:
 *   rank-k error ≤ 1.02 × exact truncated error (+ 1e-5‖A‖_F: the f32 floor, which only matters
 *   when the exact error is ~0), singular values to 1e-3 relative (1e-4·σ₁ absolute for the zero
 *   ones), ‖UᵀU − I‖∞ ≤ 1e-4 and ‖VᵀV − I‖∞ ≤ 1e-4.
 */
import { describe, expect, it } from 'vitest';
import { jacobiSvd, symmetricEigen } from '../../src/core/kernels/jacobi-svd';
import { matmul } from '../../src/core/kernels/matmul';
import { matOps } from '../../src/core/linalg/ops';
import { orthonormalize } from '../../src/core/linalg/orth';
import { randomizedSvd } from '../../src/core/linalg/rsvd';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { CASES, frobenius, orthogonalityError, residual, withSpectrum } from './spectra';

const ops = matOps(new CpuBackend());

describe('one-sided Jacobi SVD (f64 reference)', () => {
  it('recovers a known spectrum to 1e-12 and orthonormal factors, tall and wide', () => {
    for (const [m, n] of [
      [30, 20],
      [20, 30],
    ] as const) {
      const sigma = Array.from({ length: 20 }, (_, i) => 2 ** -i);
      const A = withSpectrum(m, n, sigma, 3);
      const r = jacobiSvd(A, m, n);
      const exact = jacobiSvd(Float64Array.from(A), m, n); // same input, determinism
      for (let i = 0; i < 20; i++) expect(Math.abs(r.s[i]! - sigma[i]!)).toBeLessThan(1e-6 * sigma[0]!); // f32 input rounding
      expect([...r.s]).toEqual([...exact.s]);
      expect(orthogonalityError(r.U, m, r.r)).toBeLessThan(1e-12);
      expect(orthogonalityError(r.V, n, r.r)).toBeLessThan(1e-12);
      expect(residual(A, r.U, r.s, r.V, m, n, r.r)).toBeLessThan(1e-12 * frobenius(A));
    }
  });

  it('completes U to an orthonormal basis where singular values are zero', () => {
    const A = withSpectrum(12, 8, [3, 2], 5);
    const r = jacobiSvd(A, 12, 8);
    expect(r.s[2]).toBeLessThan(1e-6);
    expect(orthogonalityError(r.U, 12, 8)).toBeLessThan(1e-12);
  });

  it('symmetric eigendecomposition keeps signs', () => {
    const g = [2, 1, 0, 1, 2, 0, 0, 0, -1];
    const { lambda, W } = symmetricEigen(g, 3);
    expect([...lambda].map((x) => +x.toFixed(10))).toEqual([3, 1, -1]);
    expect(orthogonalityError(W, 3, 3)).toBeLessThan(1e-12);
  });
});

describe('Gram orthonormalisation (CholeskyQR2 / SVQR)', () => {
  it('orthonormalises an ill-conditioned and a rank-deficient tall matrix in f32', async () => {
    for (const sigma of [Array.from({ length: 16 }, (_, i) => 10 ** (-i / 5)), [1, 1, 1, 0.5]]) {
      const Y = withSpectrum(200, 16, sigma, 11);
      const { Q, passes } = await orthonormalize(ops, await ops.upload(Y), 200, 16, { seed: 1, stream: 2 });
      const q = await ops.download(Q);
      expect(orthogonalityError(q, 200, 16)).toBeLessThan(1e-5);
      expect(passes).toBeLessThanOrEqual(4);
      // range(Y) ⊆ range(Q): ‖Y − Q QᵀY‖ is at the f32 floor
      const qty = matmul(q, Y, 16, 200, 16, true, false);
      const back = matmul(q, qty, 200, 16, 16);
      expect(frobenius(back.map((x, i) => x - Y[i]!))).toBeLessThan(3e-5 * frobenius(Y));
    }
  });
});

describe('randomized SVD on known spectra (f32)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const A = withSpectrum(c.m, c.n, c.sigma, 42);
      const exact = jacobiSvd(A, c.m, c.n);
      const optimal = Math.sqrt(exact.s.slice(c.k).reduce((s, x) => s + x * x, 0));
      const r = await randomizedSvd(ops, await ops.upload(A), c.m, c.n, {
        rank: c.k,
        oversample: 10,
        powerIters: 2,
        seed: 9,
      });
      const U = await ops.download(r.U);
      const V = await ops.download(r.V);
      const err = residual(A, U, r.s, V, c.m, c.n, c.k);
      expect(err, `error ${err} vs optimal ${optimal}`).toBeLessThanOrEqual(1.02 * optimal + 1e-5 * frobenius(A));
      for (let i = 0; i < c.k; i++) {
        const tol = exact.s[i]! > 1e-4 * exact.s[0]! ? 1e-3 * exact.s[i]! : 1e-4 * exact.s[0]!;
        expect(Math.abs(r.s[i]! - exact.s[i]!), `σ_${i}: ${r.s[i]} vs ${exact.s[i]}`).toBeLessThanOrEqual(tol);
      }
      expect(orthogonalityError(U, c.m, c.k)).toBeLessThanOrEqual(1e-4);
      expect(orthogonalityError(V, c.n, c.k)).toBeLessThanOrEqual(1e-4);
    });
  }

  it('is deterministic for a seed and exact when k + p covers the whole matrix', async () => {
    const A = withSpectrum(
      40,
      30,
      Array.from({ length: 30 }, (_, i) => 1 / (1 + i)),
      4,
    );
    const run = () => ops.upload(A).then((a) => randomizedSvd(ops, a, 40, 30, { rank: 30, seed: 3 }));
    const [r1, r2] = [await run(), await run()];
    expect([...r1.s]).toEqual([...r2.s]);
    const exact = jacobiSvd(A, 40, 30);
    for (let i = 0; i < 30; i++) expect(Math.abs(r1.s[i]! - exact.s[i]!)).toBeLessThan(1e-5 * exact.s[0]!);
  });
});
