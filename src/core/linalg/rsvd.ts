/**
 * Randomized truncated SVD (Halko, Martinsson & Tropp 2011, Algorithms 4.4 + 5.1), with every
 * product against A on the backend and only (k+p)-sized factorisations on the CPU.
 *
 *   A: [m, n]   l = min(k + p, m, n)
 *   Ω: [n, l] ~ N(0,1)                      (seeded, uploaded)
 *   Y = A Ω; Q = orth(Y)                    [m, l]
 *   q times: Q' = orth(Aᵀ Q); Q = orth(A Q') (re-orthonormalised at each half step)
 *   Bᵀ = Aᵀ Q  [n, l];  Q₂ = orth(Bᵀ);  R = Q₂ᵀ Bᵀ  [l, l]   (so B = Rᵀ Q₂ᵀ)
 *   Rᵀ = U_B S V_Bᵀ  (one-sided Jacobi, f64, CPU)
 *   U = Q U_B[:, :k]  [m, k];   V = Q₂ V_B[:, :k]  [n, k];   A ≈ U diag(s) Vᵀ
 * Taking the small SVD of the l×l factor R (instead of the l×n matrix B) keeps the CPU part
 * O(l³) whatever n is.
 */
import { jacobiSvd } from '../kernels/jacobi-svd';
import { type MatOps, product } from './ops';
import { orthonormalize } from './orth';
import { gaussian } from './random';

export const DEFAULT_OVERSAMPLE = 10;
export const DEFAULT_POWER_ITERS = 2;

export interface RsvdOptions {
  rank: number;
  oversample?: number;
  powerIters?: number;
  seed?: number;
  stream?: number;
}

export interface RsvdResult<T> {
  readonly m: number;
  readonly n: number;
  /** Columns of U and V (min(rank, m, n)). */
  readonly k: number;
  readonly U: T; // [m, k]
  readonly s: Float64Array; // [k]
  readonly V: T; // [n, k]
  /** All l = k+p Ritz values (the spectrum estimate, for diagnostics). */
  readonly sketch: Float64Array;
}

export async function randomizedSvd<T>(
  ops: MatOps<T>,
  A: T,
  m: number,
  n: number,
  o: RsvdOptions,
): Promise<RsvdResult<T>> {
  const k = Math.max(1, Math.min(Math.floor(o.rank), m, n));
  const l = Math.min(k + Math.max(0, Math.floor(o.oversample ?? DEFAULT_OVERSAMPLE)), m, n);
  const q = Math.max(0, Math.floor(o.powerIters ?? DEFAULT_POWER_ITERS));
  const seed = o.seed ?? 0;
  const stream = o.stream ?? 0;
  const orth = (Y: T, rows: number, step: number, { keepInput = false } = {}) =>
    orthonormalize(ops, Y, rows, l, { seed, stream: (stream + 0x9e37 * (step + 1)) >>> 0, keepInput }).then((r) => r.Q);

  const omega = await ops.upload(gaussian(n * l, seed, stream));
  let Q = await orth(await product(ops, A, omega, { m, k: n, n: l }), m, 0);
  ops.release(omega);
  for (let i = 0; i < q; i++) {
    const Z = await orth(await product(ops, A, Q, { m: n, k: m, n: l, transA: true }), n, 2 * i + 1);
    ops.release(Q);
    Q = await orth(await product(ops, A, Z, { m, k: n, n: l }), m, 2 * i + 2);
    ops.release(Z);
  }
  const Bt = await product(ops, A, Q, { m: n, k: m, n: l, transA: true }); // [n, l] = Aᵀ Q
  const Q2 = await orth(Bt, n, 2 * q + 1, { keepInput: true });
  const rh = await product(ops, Q2, Bt, { m: l, k: n, n: l, transA: true }); // R = Q₂ᵀ Bᵀ
  ops.release(Bt);
  const R = await ops.download(rh);
  ops.release(rh);
  const Rt = new Float64Array(l * l);
  for (let i = 0; i < l; i++) for (let j = 0; j < l; j++) Rt[i * l + j] = R[j * l + i]!;
  const small = jacobiSvd(Rt, l, l);
  const Ub = new Float32Array(l * k);
  const Vb = new Float32Array(l * k);
  for (let i = 0; i < l; i++)
    for (let j = 0; j < k; j++) {
      Ub[i * k + j] = small.U[i * l + j]!;
      Vb[i * k + j] = small.V[i * l + j]!;
    }
  const [ubh, vbh] = await Promise.all([ops.upload(Ub), ops.upload(Vb)]);
  const U = await product(ops, Q, ubh, { m, k: l, n: k });
  const V = await product(ops, Q2, vbh, { m: n, k: l, n: k });
  for (const h of [ubh, vbh, Q, Q2]) ops.release(h);
  return { m, n, k, U, s: small.s.slice(0, k), V, sketch: small.s };
}

/** U diag(w·s) Vᵀ (+ C₀): the rank-k matrix of a factorisation, scaled by w. */
export async function reconstruct<T>(
  ops: MatOps<T>,
  f: { m: number; n: number; k: number; U: T; V: T },
  s: ArrayLike<number>,
  w = 1,
  acc?: T,
): Promise<T> {
  const D = new Float32Array(f.k * f.k);
  for (let j = 0; j < f.k; j++) D[j * f.k + j] = w * (s[j] ?? 0);
  const dh = await ops.upload(D);
  const US = await product(ops, f.U, dh, { m: f.m, k: f.k, n: f.k });
  ops.release(dh);
  const out = await product(ops, US, f.V, { m: f.m, k: f.k, n: f.n, transB: true }, acc);
  ops.release(US);
  return out;
}
