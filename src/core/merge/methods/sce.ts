/**
 * SCE (mergekit's sce: select, calculate, erase), per tensor over the task vectors δ_t = θ_t − θ₀:
 *   select:    with select_topk < 1, keep the int(select_topk · #{var ≠ 0}) elements of largest
 *              variance across the models (population variance; ties lowest index first), in every δ_t;
 *   calculate: w_t = mean(δ_t²) / Σ_s mean(δ_s²) (1/T each when that sum is below 1e-6);
 *   erase:     γ = sign(Σ_t δ_t); θ = θ₀ + Σ_{sign δ_t = γ} w_t δ_t / Σ_{sign δ_t = γ} w_t.
 * mergekit divides by max(Σ w_t, 1e-6) there; here by Σ w_t (1 where none agree): they differ only
 * where the agreeing weights sum to less than 1e-6. No per-model weight: SCE computes its own.
 */
import { DELTA } from '../../kernels/delta';
import { KEEP_WHERE } from '../../kernels/keep-where';
import { MAGNITUDE_BAND } from '../../kernels/magnitude-band';
import { SQUARED_DEVIATION } from '../../kernels/squared-deviation';
import { EMPTY_CUT, FULL_CUT, type IndexedChunkVisitor, type RankCut, topKCut } from '../select';
import type { TensorJob } from '../tensor-job';

/** mergekit's sce_weight: below this sum of mean squares, every task vector weighs 1/T. */
const WEIGHT_EPS = 1e-6;

export async function mergeSce<T>(job: TensorJob<T>): Promise<void> {
  const be = job.backend;
  const count = job.inputs.length - 1;
  const all = job.inputs.map((_, i) => i);
  const topk = Number(job.global.options?.select_topk ?? 1);

  const deltasOf = (ins: readonly T[]) => Promise.all(ins.slice(1).map((m) => be.elementwise(DELTA, [m, ins[0]!], {})));
  /** T · the variance across models, per element (the order of the variance; the scale is dropped). */
  const spreadOf = async (ds: readonly T[]) => {
    const mean = await be.weightedSum(
      ds,
      ds.map(() => 1 / count),
    );
    let acc = await be.weightedSum([mean], [0]);
    for (const d of ds) {
      const next = await be.elementwise(SQUARED_DEVIATION, [d, mean, acc], {});
      be.release(acc);
      acc = next;
    }
    be.release(mean);
    return acc;
  };
  const spreads: IndexedChunkVisitor<T> = async (visit, only) => {
    const [first, end] = only === undefined ? [0, job.numChunks] : [only, only + 1];
    for (let c = first; c < end; c++) {
      const ins = await job.loadInputs(c, all);
      const ds = await deltasOf(ins);
      ins.forEach((x) => be.release(x));
      const spread = await spreadOf(ds);
      ds.forEach((d) => be.release(d));
      await visit(spread, c);
      be.release(spread);
    }
  };

  // select: the top int(select_topk · nonzero) of the variance.
  let cut: RankCut = FULL_CUT;
  if (topk < 1) {
    const zeros = new Uint32Array(512);
    await spreads((s) => be.absHistogram(s, { prefix: 0, prefixShift: 9, shift: 0, width: 9 }, zeros));
    const k = topk <= 0 ? 0 : Math.floor((job.numel - zeros[0]!) * topk);
    cut = k <= 0 ? EMPTY_CUT : await topKCut(be, spreads, job.chunkElements, k);
  }
  /** Chunk c's task vectors, masked by the selection. */
  const selected = async (ins: readonly T[], c: number): Promise<T[]> => {
    const ds = await deltasOf(ins);
    if (cut === FULL_CUT) return ds;
    const spread = await spreadOf(ds);
    const key = await be.elementwise(MAGNITUDE_BAND, [spread], {
      lo: cut.value,
      loEnd: cut.tieEnd,
      hi: Infinity,
      offset: c * job.chunkElements,
    });
    be.release(spread);
    const masked = await Promise.all(ds.map((d) => be.elementwise(KEEP_WHERE, [d, key], {})));
    [...ds, key].forEach((x) => be.release(x));
    return masked;
  };

  // calculate: w_t from the mean squares of the selected task vectors.
  const squares = new Array<number>(count).fill(0);
  for (let c = 0; c < job.numChunks; c++) {
    const ds = await selected(await job.load(c), c);
    for (const [t, d] of ds.entries()) squares[t]! += await be.dot(d, d);
    ds.forEach((d) => be.release(d));
  }
  const means = squares.map((s) => s / job.numel);
  const sum = means.reduce((a, b) => a + b, 0);
  const weights = Math.abs(sum) < WEIGHT_EPS ? means.map(() => 1 / count) : means.map((m) => m / sum);

  // erase: the weighted mean of the task vectors that agree with the elected sign.
  for (let c = 0; c < job.numChunks; c++) {
    const ins = await job.load(c);
    const ds = await selected(ins, c);
    const sign = await be.electSign(ds);
    const weighted = await Promise.all(ds.map((d, t) => be.weightedSum([d], [weights[t]!])));
    const mixed = await be.disjointMean(weighted, weights, sign, true);
    const out = await be.weightedSum([ins[0]!, mixed], [1, 1]);
    [...ds, sign, ...weighted, mixed].forEach((x) => be.release(x));
    await job.emit(out);
  }
}
