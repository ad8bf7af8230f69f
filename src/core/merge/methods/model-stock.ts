/**
 * Model Stock (mergekit's model_stock) over the offsets δ_i = θ_i − θ₀ of N ≥ 2 models:
 *   cos θ = the mean over pairs i < j of δ_i·δ_j / max(‖δ_i‖‖δ_j‖, 1e-6), clamped to [−1, 1];
 *   t = N cos θ / (1 + (N − 1) cos θ);  θ = t · mean(θ_i) + (1 − t) θ₀ = θ₀ + (t/N) Σ δ_i.
 * filter_wise: one cos θ and t per row (a 1-D tensor is one row), as mergekit's dim −1.
 */
import { DELTA } from '../../kernels/delta';
import type { TensorJob } from '../tensor-job';
import { type VectorsOf, emitCombination, groupGrams } from './grouped';

/** t for one group from the Gram matrix of its N offsets. */
export function modelStockT(gram: Float64Array, n: number): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const norms = Math.sqrt(gram[i * n + i]!) * Math.sqrt(gram[j * n + j]!);
      sum += Math.min(1, Math.max(-1, gram[i * n + j]! / Math.max(norms, 1e-6)));
      pairs++;
    }
  const cos = sum / pairs;
  return (n * cos) / (1 + (n - 1) * cos);
}

export async function mergeModelStock<T>(job: TensorJob<T>): Promise<void> {
  const be = job.backend;
  const n = job.inputs.length - 1;
  const grouping = job.global.options?.filter_wise === true ? 'rows' : 'all';
  const offsets: VectorsOf<T> = (ins) => Promise.all(ins.slice(1).map((m) => be.elementwise(DELTA, [m, ins[0]!], {})));
  const grams = await groupGrams(job, offsets, grouping);
  const coefficients = grams.map((g) => new Array<number>(n).fill(modelStockT(g, n) / n));
  await emitCombination(job, offsets, true, coefficients, grouping);
}
