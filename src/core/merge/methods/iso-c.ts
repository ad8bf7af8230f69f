/**
 * iso_c and iso_cts: Iso-C and Iso-CTS (Marczak et al. 2025, "No Task Left Behind: Isotropic
 * Model Merging"), per 2-D weight:
 *   δ̄ = Σ w_t δ_t / Σ w_t = U Σ Vᵀ (rank k: `rank`, default min(m, n, 256): the paper's full
 *   spectrum up to 256; above that the CPU-side (k+p)² Jacobi SVD gets slow, so larger weights
 *   get the isotropic merge of their top-256 subspace unless `rank` asks for more)
 *   θ = θ₀ + λ σ̄ U_k V_kᵀ,  σ̄ = mean of the k singular values (a flat spectrum)
 * iso_cts adds task-specific directions to the common subspace:
 *   common: the top k_c = round(common_fraction·k) triplets (U_c, Σ_c, V_c) of δ̄
 *   task t: the top s = ⌊(k − k_c)/T⌋ triplets of (I − U_c U_cᵀ) δ_t
 *   U* = [U_c U_1 … U_T], V* likewise, both whitened by their polar factors (as in TSV)
 *   θ = θ₀ + λ σ̄ Û* V̂*ᵀ,  σ̄ = mean of all the kept singular values
 * When k_c + T·s reaches min(m, n) the concatenated factors are square, and their whitening is
 * as ill-conditioned as V* is (the V_t are not orthogonal to V_c): in f32 the result can then
 * differ from an f64 computation by ~1e-4 of its scale.
 */
import { product } from '../../linalg/ops';
import { reconstruct } from '../../linalg/rsvd';
import { DELTA } from '../../kernels/delta';
import { svdDiagnostics } from '../diagnostics';
import { DEFAULT_COMMON_FRACTION } from './parameters';
import { METHODS, numberDefault } from './registry';
import {
  type SvdContext,
  addFactorProduct,
  inverseSqrtGram,
  keptRank,
  reportTaskVectorSpectra,
  truncatedSvd,
} from './svd-common';

export const ISO_C_DEFAULT_RANK = numberDefault(METHODS.iso_c, 'rank');

export async function mergeIsoC<T>(ctx: SvdContext<T>): Promise<void> {
  const { job, ops } = ctx;
  const [base, ...ins] = await job.load(0);
  const ws = ctx.models.map((m) => m.weight);
  const wsum = ws.reduce((a, b) => a + b, 0);
  const div = Math.abs(wsum) >= 1e-8 ? wsum : 1;
  const k = keptRank(ctx, Math.min(ctx.m, ctx.n, ISO_C_DEFAULT_RANK));
  // δ̄ = Σ (w_t/Σw) θ_t − θ₀
  const mean = await job.backend.weightedSum([base!, ...ins], [-1, ...ws.map((w) => w / div)]);
  const f = await truncatedSvd(ctx, mean, k, ctx.models[0]!.stream ^ 0x150c, {
    model: 'mean',
    matrix: 'mean_task_vector',
  });
  ops.release(mean);
  const sbar = f.s.reduce((a, b) => a + b, 0) / f.k;
  svdDiagnostics(job.diagnostics).iso = { sigmaMean: sbar };
  const out = await reconstruct(
    ops,
    f,
    Array.from(f.s, () => sbar),
    job.global.lambda,
    base!,
  );
  for (const h of [f.U, f.V]) ops.release(h);
  await reportTaskVectorSpectra(ctx, base!, ins, Math.min(k, 64));
  await job.emit(out);
}

export async function mergeIsoCts<T>(ctx: SvdContext<T>): Promise<void> {
  const { job, ops, m, n } = ctx;
  const be = job.backend;
  const [base, ...ins] = await job.load(0);
  const ws = ctx.models.map((x) => x.weight);
  const wsum = ws.reduce((a, b) => a + b, 0);
  const div = Math.abs(wsum) >= 1e-8 ? wsum : 1;
  const T_ = ctx.models.length;
  const k = keptRank(ctx, Math.min(m, n, ISO_C_DEFAULT_RANK));
  const kc = Math.max(1, Math.min(k, Math.round((ctx.settings.commonFraction ?? DEFAULT_COMMON_FRACTION) * k)));
  const s = Math.floor((k - kc) / T_);
  const mean = await be.weightedSum([base!, ...ins], [-1, ...ws.map((w) => w / div)]);
  const common = await truncatedSvd(ctx, mean, kc, ctx.models[0]!.stream ^ 0x150c, {
    model: 'mean',
    matrix: 'mean_task_vector',
  });
  ops.release(mean);
  const Us: T[] = [common.U];
  const Vs: T[] = [common.V];
  const widths = [common.k];
  const sig: number[] = Array.from(common.s);
  for (let t = 0; s > 0 && t < T_; t++) {
    const d = await be.elementwise(DELTA, [ins[t]!, base!], {});
    const X = await product(ops, common.U, d, { m: common.k, k: m, n, transA: true }); // U_cᵀ δ_t
    const P = await product(ops, common.U, X, { m, k: common.k, n });
    const resid = await ops.combine([d, P], [1, -1]);
    for (const h of [d, X, P]) ops.release(h);
    const f = await truncatedSvd(ctx, resid, s, ctx.models[t]!.stream, {
      model: ctx.models[t]!.model,
      matrix: 'task_specific',
    });
    ops.release(resid);
    Us.push(f.U);
    Vs.push(f.V);
    widths.push(f.k);
    sig.push(...f.s);
  }
  const sbar = sig.reduce((a, b) => a + b, 0) / sig.length;
  svdDiagnostics(job.diagnostics).iso = { sigmaMean: sbar, commonRank: common.k, taskRank: s };
  const K = widths.reduce((a, b) => a + b, 0);
  const Pu = await inverseSqrtGram(ops, Us, m, widths);
  const Pv = await inverseSqrtGram(ops, Vs, n, widths);
  const C = new Float64Array(K * K); // λ σ̄ Pu Pv
  for (let i = 0; i < K; i++)
    for (let p = 0; p < K; p++) {
      const a = Pu[i * K + p]! * sbar * job.global.lambda;
      if (a === 0) continue;
      for (let j = 0; j < K; j++) C[i * K + j]! += a * Pv[p * K + j]!;
    }
  const out = await addFactorProduct(ops, base!, Us, Vs, C, m, n, widths);
  for (const h of [...Us, ...Vs]) ops.release(h);
  await reportTaskVectorSpectra(ctx, base!, ins, Math.min(k, 64));
  await job.emit(out);
}
