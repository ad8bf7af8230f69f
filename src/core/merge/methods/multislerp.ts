/**
 * Multi-SLERP (mergekit's multislerp): barycentric interpolation on the hypersphere of N models'
 * flattened tensors x_i (task vectors with a base_model, added back at the end):
 *   u_i = x_i / (‖x_i‖ + eps); m = Σ w_i u_i, m̂ = m/‖m‖; r = Σ w_i (u_i − (u_i·m̂) m̂);
 *   θ = (m̂ cos(‖r‖ + eps) + r sin(‖r‖ + eps)/(‖r‖ + eps)) · Σ w_i ‖x_i‖   (w normalized to Σ 1 by default).
 * Every vector above lies in the span of the x_i, so the method is a combination Σ c_i x_i whose
 * coefficients follow from the Gram matrix (f64), and runs as one weighted sum (grouped.ts).
 * Where ‖m‖ < eps: two models interpolate linearly, more are refused, as in mergekit.
 */
import { RecipeError } from '../../errors';
import { DELTA } from '../../kernels/delta';
import type { TensorJob } from '../tensor-job';
import { type VectorsOf, emitCombination, groupGrams } from './grouped';

const quad = (g: Float64Array, a: readonly number[], b: readonly number[]) =>
  a.reduce((s, ai, i) => s + ai * b.reduce((t, bj, j) => t + g[i * a.length + j]! * bj, 0), 0);

/** The coefficients c_i of θ − base = Σ c_i x_i; undefined where mergekit raises (‖m‖ < eps, N > 2). */
export function multislerpCoefficients(g: Float64Array, weights: readonly number[], eps: number): number[] | undefined {
  const n = weights.length;
  const norms = weights.map((_, i) => Math.sqrt(g[i * n + i]!));
  const a = norms.map((v) => 1 / (v + eps));
  const mu = weights.map((w, i) => w * a[i]!);
  const mNorm = Math.sqrt(Math.max(0, quad(g, mu, mu)));
  if (mNorm < eps) return n === 2 ? [...weights] : undefined;
  const hat = mu.map((v) => v / mNorm);
  // d_i = u_i · m̂; r = Σ w_i u_i − (Σ w_i d_i) m̂.
  const d = a.map((ai, i) => ai * hat.reduce((s, h, j) => s + g[i * n + j]! * h, 0));
  const wd = weights.reduce((s, w, i) => s + w * d[i]!, 0);
  const rho = mu.map((v, i) => v - wd * hat[i]!);
  const tn = Math.sqrt(Math.max(0, quad(g, rho, rho))) + eps;
  const scale = weights.reduce((s, w, i) => s + w * norms[i]!, 0);
  return hat.map((h, i) => (h * Math.cos(tn) + (rho[i]! * Math.sin(tn)) / tn) * scale);
}

export async function mergeMultislerp<T>(job: TensorJob<T>, hasBase: boolean): Promise<void> {
  const be = job.backend;
  const models = hasBase ? job.inputs.slice(1) : job.inputs;
  const o = job.global.options ?? {};
  const raw = models.map((m) => m.params.weight);
  const total = raw.reduce((s, w) => s + w, 0);
  const weights = o.normalize_weights !== false ? raw.map((w) => w / total) : raw;
  const eps = Number(o.eps ?? 1e-8);
  const vectors: VectorsOf<T> = hasBase
    ? (ins) => Promise.all(ins.slice(1).map((m) => be.elementwise(DELTA, [m, ins[0]!], {})))
    : (ins) => Promise.all(ins.map((m) => be.weightedSum([m], [1])));
  if (models.length === 1) return emitCombination(job, vectors, hasBase, [[1]], 'all');
  const [gram] = await groupGrams(job, vectors, 'all');
  const coefficients = multislerpCoefficients(gram!, weights, eps);
  if (!coefficients)
    throw new RecipeError(
      'models',
      `multislerp: the weighted mean of the unit vectors of tensor '${job.name}' is zero (antipodal models whose weights balance out); change the weights`,
    );
  await emitCombination(job, vectors, hasBase, [coefficients], 'all');
}
