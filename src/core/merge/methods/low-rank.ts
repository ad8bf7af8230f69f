/**
 * low_rank_task_arithmetic: task arithmetic with every task vector replaced by its truncated SVD.
 *   δ̃_t = U_r Σ_r V_rᵀ (rank r = `rank`, or the smallest r holding `energy` of ‖δ_t‖²_F)
 *   θ = θ₀ + λ Σ w_t δ̃_t / (normalize ? Σ w_t : 1)
 */
import { reconstruct } from '../../linalg/rsvd';
import { DELTA } from '../../kernels/delta';
import { svdDiagnostics } from '../diagnostics';
import { DEFAULT_SVD_RANK, type SvdContext, keptRank, rankForEnergy, truncatedSvd } from './svd-common';

export async function mergeLowRank<T>(ctx: SvdContext<T>): Promise<void> {
  const { job, ops, settings } = ctx;
  const [base, ...ins] = await job.load(0);
  const ws = ctx.models.map((m) => m.weight);
  const wsum = ws.reduce((a, b) => a + b, 0);
  const div = job.global.normalize && Math.abs(wsum) >= 1e-8 ? wsum : 1;
  // With `energy` and no `rank`, the whole spectrum is computed (rank min(m, n)).
  const cap = keptRank(ctx, settings.energy !== undefined ? Math.min(ctx.m, ctx.n) : DEFAULT_SVD_RANK);
  let out: T = base!;
  for (let t = 0; t < ctx.models.length; t++) {
    const d = await job.backend.elementwise(DELTA, [ins[t]!, base!], {});
    const f = await truncatedSvd(ctx, d, cap, ctx.models[t]!.stream, {
      model: ctx.models[t]!.model,
      matrix: 'task_vector',
    });
    ops.release(d);
    const r = settings.energy !== undefined ? rankForEnergy(f.s, f.totalEnergy, settings.energy) : f.k;
    if (settings.energy !== undefined)
      svdDiagnostics(job.diagnostics).energyRanks.push({ model: ctx.models[t]!.model, value: r });
    const kept = Array.from(f.s, (x, i) => (i < r ? x : 0));
    const next = await reconstruct(ops, f, kept, (job.global.lambda * ws[t]!) / div, out);
    for (const h of [f.U, f.V]) ops.release(h);
    if (out !== base) ops.release(out);
    out = next;
  }
  await job.emit(out !== base ? out : await job.backend.weightedSum([base!], [1]));
}
