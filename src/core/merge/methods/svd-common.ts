/**
 * What the SVD merges share: the context of one 2-D weight (settings: tensor-job.ts),
 * truncated SVDs with their diagnostics, the polar factor of concatenated factors, and the
 * task-arithmetic fallback for tensors an SVD does not apply to.
 *
 * Shapes: a weight W is [m, n] row-major (m = out features, n = in features); δ_t = θ_t − θ₀.
 */
import { symmetricEigen } from '../../kernels/jacobi-svd';
import { type MatOps, matOps, product } from '../../linalg/ops';
import { type RsvdResult, randomizedSvd } from '../../linalg/rsvd';
import { DELTA } from '../../kernels/delta';
import { type SpectrumDiagnostics, svdDiagnostics } from '../diagnostics';
import type { SvdSettings, TensorJob } from '../tensor-job';
import { PARAMETERS } from './parameters';

export const DEFAULT_SVD_RANK: number = PARAMETERS.rank.default;

export interface SvdContext<T> {
  readonly job: TensorJob<T>;
  readonly ops: MatOps<T>;
  readonly m: number;
  readonly n: number;
  readonly settings: SvdSettings;
  /** Models (not the base) in job order, with their weights. */
  readonly models: readonly { readonly model: string; readonly weight: number; readonly stream: number }[];
}

export function svdContext<T>(job: TensorJob<T>, settings: SvdSettings): SvdContext<T> {
  const [m, n] = job.shape as [number, number];
  const models = job.inputs
    .slice(settings.hasBase ? 1 : 0)
    .map((i) => ({ model: i.model, weight: i.params.weight, stream: i.stream }));
  return { job, ops: matOps(job.backend), m, n, settings, models };
}

/** The rank a method keeps: the recipe's `rank` (or `fallback`), clamped to [1, min(m, n)]. */
export function keptRank<T>(ctx: SvdContext<T>, fallback: number): number {
  return Math.max(1, Math.min(Math.round(ctx.settings.rank ?? fallback), ctx.m, ctx.n));
}

/** Truncated SVD of a [m, n] handle, with diagnostics recorded under `label`. */
export async function truncatedSvd<T>(
  ctx: SvdContext<T>,
  x: T,
  rank: number,
  stream: number,
  diag: { model: string; matrix: string } | undefined,
): Promise<RsvdResult<T> & { totalEnergy: number }> {
  const { ops, m, n, settings, job } = ctx;
  const r = await randomizedSvd(ops, x, m, n, {
    rank,
    oversample: settings.oversample,
    powerIters: settings.powerIters,
    seed: job.seed,
    stream,
  });
  const totalEnergy = await ops.sumSquares(x);
  if (diag) report(ctx, diag.model, diag.matrix, r.sketch, totalEnergy, r.k);
  return { ...r, totalEnergy };
}

/** Smallest r ≤ k whose leading singular values hold `fraction` of `total` energy (k if none). */
export function rankForEnergy(s: ArrayLike<number>, total: number, fraction: number): number {
  let acc = 0;
  for (let i = 0; i < s.length; i++) {
    acc += s[i]! * s[i]!;
    if (acc >= fraction * total * (1 - 1e-6)) return i + 1;
  }
  return s.length;
}

export function spectrumDiagnostics(
  tensor: string,
  model: string,
  matrix: string,
  shape: [number, number],
  sigma: ArrayLike<number>,
  totalEnergy: number,
  rank: number,
): SpectrumDiagnostics {
  const s = Array.from(sigma);
  let cum = 0;
  let rank90: number | null = null;
  let atRank = 0;
  s.forEach((x, i) => {
    cum += x * x;
    if (i < rank) atRank = cum;
    if (rank90 === null && cum >= 0.9 * totalEnergy) rank90 = i + 1;
  });
  const sum = s.reduce((a, b) => a + b, 0);
  const h = sum > 0 ? -s.reduce((a, x) => (x > 0 ? a + (x / sum) * Math.log(x / sum) : a), 0) : 0;
  return {
    tensor,
    model,
    matrix,
    shape,
    singularValues: s,
    totalEnergy,
    rank,
    energyAtRank: totalEnergy > 0 ? Math.min(1, atRank / totalEnergy) : 1,
    rank90: totalEnergy > 0 ? rank90 : 0,
    effectiveRank: Math.exp(h),
  };
}

function report<T>(
  ctx: SvdContext<T>,
  model: string,
  matrix: string,
  sigma: ArrayLike<number>,
  totalEnergy: number,
  rank: number,
): void {
  const d = spectrumDiagnostics(ctx.job.name, model, matrix, [ctx.m, ctx.n], sigma, totalEnergy, rank);
  svdDiagnostics(ctx.job.diagnostics).spectra.push({
    model,
    matrix,
    rank: d.rank,
    energyAtRank: d.energyAtRank,
    effectiveRank: d.effectiveRank,
    sigmaMax: d.singularValues[0] ?? 0,
    rank90: d.rank90,
  });
  ctx.job.spectrum?.(d);
}

/** Spectra of the plain task vectors, for methods whose own SVDs are of other matrices (only when someone listens). */
export async function reportTaskVectorSpectra<T>(
  ctx: SvdContext<T>,
  base: T,
  inputs: readonly T[],
  rank: number,
): Promise<void> {
  if (!ctx.job.spectrum) return;
  for (let i = 0; i < ctx.models.length; i++) {
    const d = await ctx.job.backend.elementwise(DELTA, [inputs[i]!, base], {});
    const r = await truncatedSvd(ctx, d, rank, ctx.models[i]!.stream, {
      model: ctx.models[i]!.model,
      matrix: 'task_vector',
    });
    for (const h of [d, r.U, r.V]) ctx.ops.release(h);
  }
}

/**
 * (XᵀX)^{-1/2} for X = [X_1 … X_T] (X_t: [rows, k_t]) from its Gram blocks: with X = P S Qᵀ,
 * X·(XᵀX)^{-1/2} = P Qᵀ, the polar factor (the nearest matrix with orthonormal columns).
 * Directions with λ ≤ 1e-10·λ_max are left out (pseudo-inverse). Returns [K, K] f64, K = Σ k_t.
 */
export async function inverseSqrtGram<T>(
  ops: MatOps<T>,
  xs: readonly T[],
  rows: number,
  ks: number | readonly number[],
): Promise<Float64Array> {
  const widths = typeof ks === 'number' ? xs.map(() => ks) : ks;
  const offs = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
  const K = widths.reduce((a, b) => a + b, 0);
  const G = new Float64Array(K * K);
  for (let a = 0; a < xs.length; a++)
    for (let b = a; b < xs.length; b++) {
      const [ka, kb] = [widths[a]!, widths[b]!];
      const h = await product(ops, xs[a]!, xs[b]!, { m: ka, k: rows, n: kb, transA: true });
      const g = await ops.download(h);
      ops.release(h);
      for (let i = 0; i < ka; i++)
        for (let j = 0; j < kb; j++) {
          G[(offs[a]! + i) * K + offs[b]! + j] = g[i * kb + j]!;
          G[(offs[b]! + j) * K + offs[a]! + i] = g[i * kb + j]!;
        }
    }
  const { lambda, W } = symmetricEigen(G, K);
  const out = new Float64Array(K * K);
  const lmax = lambda[0]!;
  for (let p = 0; p < K; p++) {
    const lam = lambda[p]!;
    if (!(lam > 1e-10 * lmax)) continue;
    const f = 1 / Math.sqrt(lam);
    for (let i = 0; i < K; i++) {
      const wi = W[i * K + p]! * f;
      if (wi === 0) continue;
      for (let j = 0; j < K; j++) out[i * K + j]! += wi * W[j * K + p]!;
    }
  }
  return out;
}

/**
 * θ₀ + Σ_{s,r} U_s C_{sr} V_rᵀ for factor lists U_s [m, k_s], V_r [n, k_r] and C [K, K] (f64):
 * Z_s = Σ_r V_r C_{sr}ᵀ  [n, k_s], then out += U_s Z_sᵀ. Consumes nothing.
 */
export async function addFactorProduct<T>(
  ops: MatOps<T>,
  base: T,
  Us: readonly T[],
  Vs: readonly T[],
  C: Float64Array,
  m: number,
  n: number,
  ks: number | readonly number[],
): Promise<T> {
  const widths = typeof ks === 'number' ? Us.map(() => ks) : ks;
  const offs = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
  const K = widths.reduce((a, b) => a + b, 0);
  let out = base;
  for (let s = 0; s < Us.length; s++) {
    const ksz = widths[s]!;
    let Z: T | undefined;
    for (let r = 0; r < Vs.length; r++) {
      const kr = widths[r]!;
      const block = new Float32Array(ksz * kr);
      for (let i = 0; i < ksz; i++)
        for (let j = 0; j < kr; j++) block[i * kr + j] = C[(offs[s]! + i) * K + offs[r]! + j]!;
      const bh = await ops.upload(block);
      const next = await product(ops, Vs[r]!, bh, { m: n, k: kr, n: ksz, transB: true }, Z); // V_r C_srᵀ
      ops.release(bh);
      if (Z) ops.release(Z);
      Z = next;
    }
    const next = await product(ops, Us[s]!, Z!, { m, k: ksz, n, transB: true }, out);
    ops.release(Z!);
    if (out !== base) ops.release(out);
    out = next;
  }
  return out;
}

/**
 * Task arithmetic for tensors an SVD does not apply to: θ₀ + λ Σ c_t δ_t, c_t = w_t (or
 * w_t/Σw when `mean`). Without a base (lore), θ₀ is the weighted mean of the models, so the
 * result is that mean.
 */
export async function mergeFallback<T>(
  job: TensorJob<T>,
  settings: SvdSettings,
  { mean }: { mean: boolean },
): Promise<void> {
  const be = job.backend;
  const models = job.inputs.slice(settings.hasBase ? 1 : 0);
  const ws = models.map((m) => m.params.weight);
  const wsum = ws.reduce((a, b) => a + b, 0);
  svdDiagnostics(job.diagnostics).fallback = true;
  let coefs: number[];
  if (!settings.hasBase) coefs = ws.map((w) => w / (Math.abs(wsum) >= 1e-8 ? wsum : 1));
  else {
    const div = mean && Math.abs(wsum) >= 1e-8 ? wsum : 1;
    const c = ws.map((w) => (job.global.lambda * w) / div);
    coefs = [1 - c.reduce((a, b) => a + b, 0), ...c];
  }
  for (let c = 0; c < job.numChunks; c++) await job.emit(await be.weightedSum(await job.load(c), coefs));
}
