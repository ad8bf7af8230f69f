/**
 * Karcher mean (mergekit's karcher): the Riemannian mean on the unit sphere of every model's
 * flattened tensor x_i (equal weights 1/N; a base_model is one of the models), scaled by the mean
 * norm. From u = the normalized mean of the unit vectors, up to max_iter times:
 *   T = Σ α_i (θ_i / sin θ_i)(û_i − cos θ_i u) over θ_i = arccos(u·û_i) ≥ tol; stop when ‖T‖ < tol;
 *   u ← normalize(cos‖T‖ u + sin‖T‖ T/‖T‖).   θ = (Σ_i ‖x_i‖/N) u.
 * Models with ‖x_i‖ ≤ tol take no part in the direction. Every vector lies in the span of the x_i,
 * so the iteration runs on coefficient vectors against the Gram matrix (f64) and the output is one
 * weighted sum (grouped.ts).
 */
import type { TensorJob } from '../tensor-job';
import { type VectorsOf, emitCombination, groupGrams } from './grouped';

/** The coefficients c_i of θ = Σ c_i x_i. */
export function karcherCoefficients(g: Float64Array, maxIter: number, tol: number): number[] {
  const n = Math.round(Math.sqrt(g.length));
  const dot = (a: readonly number[], b: readonly number[]) =>
    a.reduce((s, ai, i) => s + ai * b.reduce((t, bj, j) => t + g[i * n + j]! * bj, 0), 0);
  const norm = (a: readonly number[]) => Math.sqrt(Math.max(0, dot(a, a)));
  const norms = Array.from({ length: n }, (_, i) => Math.sqrt(g[i * n + i]!));
  const alphas = norms.map(() => 1 / n);
  const valid = norms.map((v, i) => (v > tol ? i : -1)).filter((i) => i >= 0);
  if (!valid.length) return norms.map(() => 0);
  const unit = (i: number) => norms.map((_, j) => (j === i ? 1 / norms[i]! : 0));
  const share = 1 / valid.length; // the normalized alphas (all equal)
  let u = norms.map(() => 0);
  for (const i of valid) u = u.map((v, j) => v + share * unit(i)[j]!);
  const nu = norm(u);
  u = nu < tol ? unit(valid[0]!) : u.map((v) => v / nu);
  for (let iter = 0; iter < maxIter; iter++) {
    let t = norms.map(() => 0);
    for (const i of valid) {
      const ui = unit(i);
      const cos = Math.min(1, Math.max(-1, dot(u, ui)));
      const theta = Math.acos(cos);
      if (theta < tol) continue;
      const k = (share * theta) / Math.sin(theta);
      t = t.map((v, j) => v + k * (ui[j]! - cos * u[j]!));
    }
    const nt = norm(t);
    if (nt < tol) break;
    u = u.map((v, j) => Math.cos(nt) * v + (Math.sin(nt) * t[j]!) / nt);
    const nu2 = norm(u);
    if (nu2 > tol) u = u.map((v) => v / nu2);
  }
  const s = alphas.reduce((acc, a, i) => acc + a * norms[i]!, 0);
  return u.map((v) => s * v);
}

export async function mergeKarcher<T>(job: TensorJob<T>): Promise<void> {
  const be = job.backend;
  const o = job.global.options ?? {};
  const vectors: VectorsOf<T> = (ins) => Promise.all(ins.map((m) => be.weightedSum([m], [1])));
  const [gram] = await groupGrams(job, vectors, 'all');
  const coefficients = karcherCoefficients(gram!, Number(o.max_iter ?? 10), Number(o.tol ?? 1e-5));
  await emitCombination(job, vectors, false, [coefficients], 'all');
}
