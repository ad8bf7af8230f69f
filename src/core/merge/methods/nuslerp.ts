/**
 * NuSLERP (mergekit's nuslerp): spherical interpolation of exactly two models at
 * t = w₁ / (w₀ + w₁) (0.5 when |w₀ + w₁| < 1e-6). With a base_model it interpolates the task
 * vectors and adds the base: θ = θ₀ + slerp(t, δ₀, δ₁). Per group (grouped.ts): the flattened
 * tensor (nuslerp_flatten, the default), else each row, or each column with nuslerp_row_wise:
 *   cos Ω = v̂₀·v̂₁ (norms clamped at 1e-7), clamped to [−1, 1];
 *   slerp = (sin((1−t)Ω) v₀ + sin(tΩ) v₁) / sin Ω, and (1−t) v₀ + t v₁ where |sin Ω| < 1e-8.
 */
import { DELTA } from '../../kernels/delta';
import type { TensorJob } from '../tensor-job';
import { type Grouping, type VectorsOf, emitCombination, groupGrams } from './grouped';

/** The two coefficients of one group from its 2×2 Gram matrix. */
export function nuslerpCoefficients(t: number, gram: Float64Array): [number, number] {
  const n0 = Math.max(Math.sqrt(gram[0]!), 1e-7);
  const n1 = Math.max(Math.sqrt(gram[3]!), 1e-7);
  const theta = Math.acos(Math.min(1, Math.max(-1, gram[1]! / (n0 * n1))));
  const s = Math.sin(theta);
  if (Math.abs(s) < 1e-8) return [1 - t, t];
  return [Math.sin((1 - t) * theta) / s, Math.sin(t * theta) / s];
}

export async function mergeNuslerp<T>(job: TensorJob<T>, hasBase: boolean): Promise<void> {
  const be = job.backend;
  const models = hasBase ? job.inputs.slice(1) : job.inputs;
  const [w0, w1] = models.map((m) => m.params.weight) as [number, number];
  const t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
  const o = job.global.options ?? {};
  const grouping: Grouping = o.nuslerp_flatten !== false ? 'all' : o.nuslerp_row_wise === true ? 'cols' : 'rows';
  const vectors: VectorsOf<T> = hasBase
    ? (ins) => Promise.all(ins.slice(1).map((m) => be.elementwise(DELTA, [m, ins[0]!], {})))
    : (ins) => Promise.all(ins.map((m) => be.weightedSum([m], [1])));
  const grams = await groupGrams(job, vectors, grouping);
  await emitCombination(
    job,
    vectors,
    hasBase,
    grams.map((g) => nuslerpCoefficients(t, g)),
    grouping,
  );
}
