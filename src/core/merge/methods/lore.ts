/**
 * lore: LoRE-Merging (Liu et al. 2025), coordinate descent on
 *   min_{θ₀, δ_i} Σ_i ‖θ₀ + δ_i − θ_i‖²_F + μ_i ‖δ_i‖_*
 *   1. δ_i ← SVT(θ_i − θ₀) = U max(Σ − τ_i, 0) Vᵀ,  τ_i = mu · σ_max(θ_i − θ₀)
 *   2. θ₀ ← mean_i (θ_i − δ_i)
 *   repeated `iterations` times (default 3), then θ = θ₀ + λ Σ w_i δ_i.
 * θ₀ starts at the base_model when one is given, else at the mean of the models: LoRE estimates
 * its own base. The SVDs keep at most `rank` values (default 64): singular values above τ past
 * that are dropped too.
 * `mu` is relative to each matrix's largest singular value, so one value suits every layer.
 */
import { reconstruct } from '../../linalg/rsvd';
import { DELTA } from '../../kernels/delta';
import { svdDiagnostics } from '../diagnostics';
import { METHODS, numberDefault } from './registry';
import { type SvdContext, keptRank, truncatedSvd } from './svd-common';

export async function mergeLore<T>(ctx: SvdContext<T>): Promise<void> {
  const { job, ops, settings } = ctx;
  const be = job.backend;
  const all = await job.load(0);
  const ins = settings.hasBase ? all.slice(1) : all;
  const N = ins.length;
  let theta0 = settings.hasBase
    ? await be.weightedSum([all[0]!], [1])
    : await be.weightedSum(
        ins,
        ins.map(() => 1 / N),
      );
  const k = keptRank(ctx, numberDefault(METHODS.lore, 'rank'));
  let deltas: T[] = [];
  const iters = Math.max(1, Math.round(settings.iterations));
  for (let it = 0; it < iters; it++) {
    for (const d of deltas) ops.release(d);
    deltas = [];
    let kept = 0;
    for (let i = 0; i < N; i++) {
      const x = await be.elementwise(DELTA, [ins[i]!, theta0], {});
      const last = it === iters - 1;
      const f = await truncatedSvd(
        ctx,
        x,
        k,
        ctx.models[i]!.stream ^ it,
        last ? { model: ctx.models[i]!.model, matrix: 'lore_delta' } : undefined,
      );
      ops.release(x);
      const tau = settings.mu * (f.s[0] ?? 0);
      const shrunk = Array.from(f.s, (s) => Math.max(s - tau, 0));
      kept += shrunk.filter((s) => s > 0).length;
      deltas.push(await reconstruct(ops, f, shrunk, 1));
      for (const h of [f.U, f.V]) ops.release(h);
    }
    // θ₀ = mean(θ_i − δ_i)
    const next = await be.weightedSum([...ins, ...deltas], [...ins.map(() => 1 / N), ...deltas.map(() => -1 / N)]);
    ops.release(theta0);
    theta0 = next;
    svdDiagnostics(job.diagnostics).loreRankMean.push(kept / N);
  }
  const out = await be.weightedSum([theta0, ...deltas], [1, ...ctx.models.map((m) => job.global.lambda * m.weight)]);
  for (const h of [theta0, ...deltas]) ops.release(h);
  await job.emit(out);
}
