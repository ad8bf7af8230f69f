/**
 * twin: Twin-Merging's SVD part (Lu et al., NeurIPS 2024) without its router, as the paper does:
 *   θ* = θ₀ + λ Σ w_t δ_t                       (the shared expert: a task-arithmetic merge)
 *   v_t = rank-r SVD of (θ_t − θ*)              (the exclusive knowledge; r = `rank`, default 32)
 *   θ = θ* + Σ_t c_t v_t,  c_t = w_t / Σ w      (the router's weights replaced by fixed ones)
 */
import { reconstruct } from '../../linalg/rsvd';
import { DELTA } from '../../kernels/delta';
import { DEFAULT_SVD_RANK, type SvdContext, keptRank, reportTaskVectorSpectra, truncatedSvd } from './svd-common';

export async function mergeTwin<T>(ctx: SvdContext<T>): Promise<void> {
  const { job, ops } = ctx;
  const be = job.backend;
  const [base, ...ins] = await job.load(0);
  const ws = ctx.models.map((m) => m.weight);
  const wsum = ws.reduce((a, b) => a + b, 0);
  const coefs = ws.map((w) => job.global.lambda * w);
  const shared = await be.weightedSum([base!, ...ins], [1 - coefs.reduce((a, b) => a + b, 0), ...coefs]);
  const k = keptRank(ctx, DEFAULT_SVD_RANK);
  let out = shared;
  for (let t = 0; t < ctx.models.length; t++) {
    const resid = await be.elementwise(DELTA, [ins[t]!, shared], {});
    const f = await truncatedSvd(ctx, resid, k, ctx.models[t]!.stream, {
      model: ctx.models[t]!.model,
      matrix: 'residual',
    });
    ops.release(resid);
    const next = await reconstruct(ops, f, f.s, ws[t]! / (Math.abs(wsum) >= 1e-8 ? wsum : 1), out);
    for (const h of [f.U, f.V]) ops.release(h);
    if (out !== shared) ops.release(out);
    out = next;
  }
  if (out !== shared) ops.release(shared);
  await reportTaskVectorSpectra(ctx, base!, ins, k);
  await job.emit(out);
}
