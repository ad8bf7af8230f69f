/**
 * TIES, breadcrumbs and breadcrumbs_ties (mergekit's magnitude and magnitude_outliers
 * sparsification, sign or no consensus, without the L1 rescale) on the fast CPU backend, in few
 * passes over each tensor. TIES of two models on the SIMD kernels streams from the inputs
 * (ties-pair-stream.ts); the rest here:
 *   one chunk (every Qwen-sized weight but the embedding): the task vectors are computed once
 *     (θ₀ decoded in the first one's loop), counting the selection's histogram as they are
 *     written, and kept; the window count (magnitude-cuts.ts), then one fused merge pass;
 *   several chunks: one read of the inputs computes every model's task vector and counts both the
 *     histogram and a window of low bits guessed from the first chunk (a second read only when the
 *     guess missed), then the merge read.
 * Ties at a threshold are kept lowest index first, counted off as the merge pass meets them.
 * The shared path (methods/task-arithmetic.ts over select.ts) makes three histogram passes per
 * model, each re-reading a multi-chunk tensor, and one intermediate array per step. Output bytes
 * and diagnostics are the shared path's: test/core/fast-cpu.test.ts, fast-magnitude.test.ts and
 * fast-ties-stream.test.ts.
 */
import type { MethodSpec } from '../methods/registry';
import { keptRanks } from '../methods/sparsify';
import { TaskVectorDiagnostics } from '../methods/task-arithmetic';
import { bitsToF32 } from '../select';
import { type TensorJob, eachInputChunk } from '../tensor-job';
import { FastCpuBackend, type FastTensor } from './fast-cpu-backend';
import { deltaInto } from './kernels';
import { type Band, type Cut, EMPTY_CUT, type Query, type TaskVectorPass, bitsOf, selectCuts } from './magnitude-cuts';
import type { BandState } from './magnitude-band';
import {
  baseSumInto,
  deltaCountHigh,
  deltaDecodingBase,
  pairDivisors,
  signMeanInto,
  tiesPair,
  weightBand,
} from './magnitude-kernels';
import { countHigh } from './magnitude-select';
import { mergeTiesPairStream, tiesPairStreamApplies } from './ties-pair-stream';

/** Whether this tensor's merge can take the fast magnitude path. */
export function fastMagnitudeApplies<T>(job: TensorJob<T>, spec: MethodSpec): boolean {
  const sparse = job.inputs.slice(1).some((m) => m.params.density < 1);
  return (
    job.backend instanceof FastCpuBackend &&
    spec.family === 'task_vector' &&
    (spec.sparsification === 'magnitude' || spec.sparsification === 'magnitude_outliers') &&
    (spec.consensus === 'sign' || spec.consensus === 'none') &&
    !(job.global.rescale && sparse)
  );
}

/** δ_t = θ_t − θ₀ for the handles after the first (the base), into pooled buffers; hists[t]: count it. */
function deltasOf(
  be: FastCpuBackend,
  ins: readonly FastTensor[],
  hists: readonly (Uint32Array | undefined)[],
): Float32Array[] {
  if (be.simdKernels) return simdDeltasOf(be, ins, hists);
  const baseTensor = ins[0]!;
  const first = ins[1];
  let firstDelta: Float32Array | undefined;
  if (first?.stored && baseTensor.stored && !baseTensor.values) {
    // θ₀ decoded in the first task vector's loop, not in a pass of its own.
    const values = be.scratch(baseTensor.length);
    firstDelta = be.scratch(baseTensor.length);
    const { words, table } = baseTensor.stored;
    deltaDecodingBase(first.stored.words, first.stored.table.values, words, table, values, firstDelta);
    baseTensor.values = values;
    if (hists[0]) countHigh(bitsOf(firstDelta), hists[0]);
  }
  const base = be.valuesOf(baseTensor);
  return ins.slice(1).map((m, t) => {
    if (t === 0 && firstDelta) return firstDelta;
    const d = be.scratch(base.length);
    if (m.stored) deltaCountHigh(m.stored.words, m.stored.table.values, base, d, bitsOf(d), hists[t]);
    else {
      deltaInto(be.valuesOf(m), base, d);
      if (hists[t]) countHigh(bitsOf(d), hists[t]);
    }
    return d;
  });
}

/** deltasOf on the SIMD kernels: θ₀ decoded in the first task vector's pass. */
function simdDeltasOf(
  be: FastCpuBackend,
  ins: readonly FastTensor[],
  hists: readonly (Uint32Array | undefined)[],
): Float32Array[] {
  const base = ins[0]!;
  return ins.slice(1).map((m, t) => {
    const d = be.scratch(base.length);
    be.simdDelta(m, base, d, hists[t]);
    return d;
  });
}

/** countHigh on the backend's SIMD kernels where it has them. */
function countHighOn(be: FastCpuBackend, bits: Int32Array, hist: Uint32Array): void {
  if (be.simdKernels) be.simdKernels.countHigh(bits, hist);
  else countHigh(bits, hist);
}

/** Streams chunks of the base and the given models (indices into the models), one chunk read ahead. */
async function eachChunk(
  job: TensorJob<FastTensor>,
  models: readonly number[],
  hists: readonly (Uint32Array | undefined)[],
  visit: (ds: readonly Float32Array[], c: number) => void,
): Promise<void> {
  const be = job.backend as FastCpuBackend;
  await eachInputChunk(job, [0, ...models.map((t) => t + 1)], (ins, c) => {
    const ds = deltasOf(be, ins, hists);
    try {
      visit(ds, c);
    } finally {
      ds.forEach((d) => be.recycle(d));
    }
  });
}

/** One tensor of a magnitude merge (fastMagnitudeApplies must hold). */
export async function mergeMagnitudeFast(job: TensorJob<FastTensor>, spec: MethodSpec): Promise<void> {
  const be = job.backend as FastCpuBackend;
  const models = job.inputs.slice(1);
  const single = job.numChunks === 1;
  if (tiesPairStreamApplies(job, spec))
    return mergeTiesPairStream(job, (t, lo) => recordThreshold(job, models[t]!.model, { lo, hi: EMPTY_CUT }));

  // One chunk: every task vector computed once (with the first histogram), kept until the merge pass.
  let cached: Float32Array[] | undefined;
  const cache = async (ms: readonly number[], hists: readonly Uint32Array[] | undefined) => {
    if (!cached)
      cached = deltasOf(
        be,
        await job.load(0),
        models.map((_, t) => hists?.[ms.indexOf(t)]),
      );
    else if (hists) ms.forEach((t, j) => countHighOn(be, bitsOf(cached![t]!), hists[j]!));
    return ms.map((t) => cached![t]!);
  };
  const pass: TaskVectorPass = async (ms, hists, visit) => {
    if (!single) return eachChunk(job, ms, hists ?? [], visit);
    visit(await cache(ms, hists), 0);
  };

  const bands = await chooseBands(job, spec, pass);
  // Ties at the cuts are counted off as the chunks go by, in index order.
  const states: (BandState | undefined)[] = bands.map((b) => b && bandState(b.lo, b.hi));
  const diag = job.diagnose ? new TaskVectorDiagnostics<FastTensor>(models.length) : undefined;
  for (let c = 0; c < job.numChunks; c++) {
    const ins = await job.load(c);
    const ds = single ? await cache([...models.keys()], undefined) : deltasOf(be, ins, []);
    if (diag)
      await diag.add(
        be,
        ds.map((d) => be.tensorOf(d)),
      );
    const base = be.valuesOf(ins[0]!);
    const out = be.scratch(base.length);
    mergeChunk(job, spec, states, ds, base, out);
    ds.forEach((d) => be.recycle(d));
    await job.emit(be.tensorOf(out));
  }
  diag?.report(job, {
    models: models.map((m) => m.model),
    densities: models.map((m) => m.params.density),
    trims: true,
  });
}

/** Each sparsified model's band (undefined: kept whole), recorded in the tensor's diagnostics. */
async function chooseBands(
  job: TensorJob<FastTensor>,
  spec: MethodSpec,
  pass: TaskVectorPass,
): Promise<(Band | undefined)[]> {
  const models = job.inputs.slice(1);
  const sparsification = spec.sparsification as 'magnitude' | 'magnitude_outliers';
  const queries = models.map((m, t) => {
    if (m.params.density >= 1) return undefined;
    const { top, target } = keptRanks(sparsification, job.numel, m.params.density, m.params.gamma);
    return { lo: { model: t, rank: top + target } as Query, hi: { model: t, rank: top } as Query };
  });
  await selectCuts(
    queries.flatMap((q) => (q ? [q.lo, q.hi] : [])),
    pass,
    job.numel,
    (job.backend as FastCpuBackend).simdKernels,
  );
  return queries.map((q, t) => {
    if (!q) return undefined;
    const band = { lo: q.lo.cut!, hi: q.hi.cut! };
    recordThreshold(job, models[t]!.model, band);
    return band;
  });
}

/** A model's kept band in the tensor's diagnostics. */
function recordThreshold(job: TensorJob<FastTensor>, model: string, band: Band): void {
  const hi = bitsToF32(band.hi.bits);
  job.diagnostics.thresholds.push({ model, lo: bitsToF32(band.lo.bits), ...(hi !== Infinity ? { hi } : {}) });
}

/** A counted cut as the merge pass applies it (ties counted off in index order). */
const bandState = (lo: Cut, hi: Cut): BandState => ({ lo: lo.bits, loLeft: lo.ties, hi: hi.bits, hiLeft: hi.ties });

/** One output chunk: trimmed, weighted task vectors combined onto the base (overwrites ds). */
function mergeChunk(
  job: TensorJob<FastTensor>,
  spec: MethodSpec,
  bands: readonly (BandState | undefined)[],
  ds: readonly Float32Array[],
  base: Float32Array,
  out: Float32Array,
): void {
  const models = job.inputs.slice(1);
  const { lambda, normalize } = job.global;
  const ws = models.map((m) => m.params.weight);
  const sign = spec.consensus === 'sign';
  const n = base.length;
  if (sign && ds.length === 2) {
    const [d0, d1] = [ds[0]!, ds[1]!];
    const simd = (job.backend as FastCpuBackend).simdKernels;
    const pair = { d0, b0: bitsOf(d0), d1, b1: bitsOf(d1), w0: ws[0]!, w1: ws[1]!, simd };
    tiesPair(pair, bands[0], bands[1], pairDivisors(ws[0]!, ws[1]!, normalize), base, lambda, out, 0, n);
    return;
  }
  for (const [t, d] of ds.entries()) weightBand(d, bitsOf(d), bands[t], sign ? ws[t]! : 1, 0, n);
  if (sign) signMeanInto(ds, ws, normalize, base, lambda, out);
  else {
    const wsum = ws.reduce((a, b) => a + b, 0);
    const divisor = normalize && Math.abs(wsum) >= 1e-8 ? wsum : 1;
    baseSumInto(
      base,
      ds,
      ws.map((w) => (lambda * w) / divisor),
      out,
    );
  }
}
