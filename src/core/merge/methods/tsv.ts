/**
 * tsv: Task Singular Vectors merge (TSV-M, Gargiulo et al., CVPR 2025), per 2-D weight:
 *   1. δ_t ≈ U_t Σ_t V_tᵀ, rank k = min(`rank` (default 32), ⌊min(m, n)/T⌋);
 *   2. U = [U_1 … U_T], V = [V_1 … V_T], Σ = diag(w_1 Σ_1 … w_T Σ_T);
 *   3. whiten with the polar factors: Û = U (UᵀU)^{-1/2}, V̂ = V (VᵀV)^{-1/2}  (X = PSQᵀ → PQᵀ);
 *   4. θ = θ₀ + λ Û Σ V̂ᵀ = θ₀ + Σ_{s,r} U_s C_{sr} V_rᵀ with C = λ (UᵀU)^{-1/2} Σ (VᵀV)^{-1/2}.
 * The Tk×Tk matrices are on the CPU; every product with an m- or n-sized factor is on the backend.
 */
import { DELTA } from '../../kernels/delta';
import { svdDiagnostics } from '../diagnostics';
import {
  DEFAULT_SVD_RANK,
  type SvdContext,
  addFactorProduct,
  inverseSqrtGram,
  keptRank,
  truncatedSvd,
} from './svd-common';

export async function mergeTsv<T>(ctx: SvdContext<T>): Promise<void> {
  const { job, ops, m, n } = ctx;
  const [base, ...ins] = await job.load(0);
  const T_ = ctx.models.length;
  // T·k ≤ min(m, n), so that the whitened concatenated factors can have orthonormal columns.
  const k = Math.min(keptRank(ctx, DEFAULT_SVD_RANK), Math.max(1, Math.floor(Math.min(m, n) / T_)));
  const Us: T[] = [];
  const Vs: T[] = [];
  const sig: number[] = [];
  for (let t = 0; t < T_; t++) {
    const d = await job.backend.elementwise(DELTA, [ins[t]!, base!], {});
    const f = await truncatedSvd(ctx, d, k, ctx.models[t]!.stream, {
      model: ctx.models[t]!.model,
      matrix: 'task_vector',
    });
    ops.release(d);
    Us.push(f.U);
    Vs.push(f.V);
    for (let i = 0; i < k; i++) sig.push(ctx.models[t]!.weight * (f.s[i] ?? 0));
  }
  const K = T_ * k;
  const Pu = await inverseSqrtGram(ops, Us, m, k);
  const Pv = await inverseSqrtGram(ops, Vs, n, k);
  // C = λ Pu diag(sig) Pv
  const C = new Float64Array(K * K);
  for (let i = 0; i < K; i++)
    for (let p = 0; p < K; p++) {
      const a = Pu[i * K + p]! * sig[p]! * job.global.lambda;
      if (a === 0) continue;
      for (let j = 0; j < K; j++) C[i * K + j]! += a * Pv[p * K + j]!;
    }
  const out = await addFactorProduct(ops, base!, Us, Vs, C, m, n, k);
  for (const h of [...Us, ...Vs]) ops.release(h);
  svdDiagnostics(job.diagnostics).tsvRank = k;
  await job.emit(out !== base ? out : await job.backend.weightedSum([base!], [1]));
}
