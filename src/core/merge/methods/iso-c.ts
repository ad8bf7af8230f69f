/**
 * iso_c: Iso-C (Marczak et al. 2025, "No Task Left Behind: Isotropic Model Merging"), per 2-D weight:
 *   δ̄ = Σ w_t δ_t / Σ w_t = U Σ Vᵀ (rank k: `rank`, default min(m, n, 256): the paper's full
 *   spectrum up to 256; above that the CPU-side (k+p)² Jacobi SVD gets slow, so larger weights
 *   get the isotropic merge of their top-256 subspace unless `rank` asks for more)
 *   θ = θ₀ + λ σ̄ U_k V_kᵀ,  σ̄ = mean of the k singular values (a flat spectrum)
 */
import { reconstruct } from '../../linalg/rsvd';
import { type SvdContext, keptRank, reportTaskVectorSpectra, truncatedSvd } from './svd-common';

export const ISO_C_DEFAULT_RANK = 256;

export async function mergeIsoC<T>(ctx: SvdContext<T>): Promise<void> {
  const { job, ops } = ctx;
  const [base, ...ins] = await job.load(0);
  const ws = ctx.models.map((m) => m.weight);
  const wsum = ws.reduce((a, b) => a + b, 0);
  const div = Math.abs(wsum) >= 1e-8 ? wsum : 1;
  const k = keptRank(ctx, Math.min(ctx.m, ctx.n, ISO_C_DEFAULT_RANK));
  // δ̄ = Σ (w_t/Σw) θ_t − θ₀
  const mean = await job.backend.weightedSum([base!, ...ins], [-1, ...ws.map((w) => w / div)]);
  const f = await truncatedSvd(ctx, mean, k, ctx.models[0]!.stream ^ 0x150c, { model: 'mean', matrix: 'mean_task_vector' });
  ops.release(mean);
  const sbar = f.s.reduce((a, b) => a + b, 0) / f.k;
  job.note('iso_sigma_mean', sbar);
  const out = await reconstruct(ops, f, Array.from(f.s, () => sbar), job.global.lambda, base!);
  for (const h of [f.U, f.V]) ops.release(h);
  await reportTaskVectorSpectra(ctx, base!, ins, Math.min(k, 64));
  await job.emit(out);
}
