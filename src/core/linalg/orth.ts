/**
 * Orthonormalisation of tall matrices by Gram passes (CholeskyQR2):
 *   G = YᵀY (on the backend) → G = RᵀR (l×l Cholesky, CPU, f64) → Y ← Y R⁻¹ (on the backend)
 * repeated until ‖YᵀY − I‖_max ≤ 1e-5 (two passes for a well-conditioned Y, three or four
 * otherwise). When the Cholesky meets a pivot ≤ 1e-6 of the largest diagonal (κ(Y) ≳ 1e3, or a
 * rank-deficient Y), that pass uses the eigendecomposition G = W Λ Wᵀ instead (the SVQR form,
 * Y ← Y W Λ^{-1/2}), which is rank-revealing: directions with λ ≤ 1e-9·λ_max (σ below
 * 3e-5·σ_max, under the f32 resolution of the Gram matrix) are dropped and refilled with fresh
 * Gaussian columns, which the next pass orthogonalises against the rest. So rank-deficient inputs
 * (exactly low-rank task vectors, rank(A) < k+p) still give l orthonormal columns.
 *
 * f32 limits: one pass of Gram orthonormalisation loses orthogonality like ε·κ(Y)², ε = 6e-8,
 * so a single pass is only good for κ ≲ 10; the first pass brings κ near 1 for κ(Y) up to about
 * 1/sqrt(ε) ≈ 4e3 and the repeat brings ‖QᵀQ − I‖ to the f32 rounding of the Gram product
 * (≈ √m·ε ≈ 1e-6 for m = 10⁴). Components below ≈3e-5·σ_max (relative to the largest) are not
 * resolved: that is the floor of every f32 SVD here.
 */
import { symmetricEigen } from '../kernels/jacobi-svd';
import { type MatOps, product } from './ops';
import { gaussian } from './random';

export const ORTH_TOL = 1e-5;
export const DROP_RATIO = 1e-9;
export const CHOLESKY_PIVOT_RATIO = 1e-6;

/** R⁻¹ for G = RᵀR (R upper triangular), or undefined when a pivot is ≤ ratio·max diag(G). G: [l, l]. */
export function choleskyInverse(
  G: ArrayLike<number>,
  l: number,
  ratio = CHOLESKY_PIVOT_RATIO,
): Float64Array | undefined {
  let maxd = 0;
  for (let j = 0; j < l; j++) maxd = Math.max(maxd, G[j * l + j]!);
  if (!(maxd > 0)) return undefined;
  const R = new Float64Array(l * l);
  for (let j = 0; j < l; j++) {
    let d = G[j * l + j]!;
    for (let p = 0; p < j; p++) d -= R[p * l + j]! ** 2;
    if (!(d > ratio * maxd)) return undefined;
    const rjj = Math.sqrt(d);
    R[j * l + j] = rjj;
    for (let i = j + 1; i < l; i++) {
      let v = G[j * l + i]!;
      for (let p = 0; p < j; p++) v -= R[p * l + j]! * R[p * l + i]!;
      R[j * l + i] = v / rjj;
    }
  }
  // X = R⁻¹ (upper triangular), column by column: R x = e_c.
  const X = new Float64Array(l * l);
  for (let c = 0; c < l; c++)
    for (let i = c; i >= 0; i--) {
      let v = i === c ? 1 : 0;
      for (let p = i + 1; p <= c; p++) v -= R[i * l + p]! * X[p * l + c]!;
      X[i * l + c] = v / R[i * l + i]!;
    }
  return X;
}
const MAX_PASSES = 5;

export interface OrthOptions {
  seed: number;
  stream: number;
  /** Keep Y alive (default: Y is consumed). */
  keepInput?: boolean;
}

/** Q: [m, l] with orthonormal columns spanning range(Y), Y: [m, l]. */
export async function orthonormalize<T>(
  ops: MatOps<T>,
  Y: T,
  m: number,
  l: number,
  o: OrthOptions,
): Promise<{ Q: T; passes: number }> {
  if (l > m) throw new Error(`orthonormalize: ${l} columns do not fit in ${m} rows`);
  let cur = Y;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const gh = await product(ops, cur, cur, { m: l, k: m, n: l, transA: true });
    const G = await ops.download(gh);
    ops.release(gh);
    if (pass > 0) {
      let dev = 0;
      for (let i = 0; i < l; i++)
        for (let j = 0; j < l; j++) dev = Math.max(dev, Math.abs(G[i * l + j]! - (i === j ? 1 : 0)));
      if (dev <= ORTH_TOL) return { Q: cur, passes: pass };
    }
    const M = new Float32Array(l * l);
    const bad: number[] = [];
    const rinv = choleskyInverse(G, l);
    if (rinv) M.set(rinv);
    const { lambda, W } = rinv ? { lambda: new Float64Array(0), W: new Float64Array(0) } : symmetricEigen(G, l);
    const lmax = lambda[0]!;
    for (let j = 0; j < (rinv ? 0 : l); j++) {
      const lam = lambda[j]!;
      if (!(lmax > 0) || lam <= DROP_RATIO * lmax) {
        bad.push(j);
        continue;
      }
      const inv = 1 / Math.sqrt(lam);
      for (let i = 0; i < l; i++) M[i * l + j] = W[i * l + j]! * inv;
    }
    const mh = await ops.upload(M);
    let fill: T | undefined;
    if (bad.length) {
      const g = gaussian(m * bad.length, o.seed, (o.stream ^ (0x51ed27 * (pass + 1))) >>> 0, 1 / Math.sqrt(m));
      const F = new Float32Array(m * l);
      bad.forEach((j, b) => {
        for (let i = 0; i < m; i++) F[i * l + j] = g[i * bad.length + b]!;
      });
      fill = await ops.upload(F);
    }
    const next = await product(ops, cur, mh, { m, k: l, n: l }, fill);
    ops.release(mh);
    if (fill) ops.release(fill);
    if (cur !== Y || !o.keepInput) ops.release(cur);
    cur = next;
  }
  return { Q: cur, passes: MAX_PASSES };
}
