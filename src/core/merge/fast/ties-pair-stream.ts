/**
 * TIES of two models (magnitude trim, sign consensus) on the wasm SIMD kernels, streamed from the
 * inputs without keeping a task vector:
 *   a sample of the first chunk's task vectors guesses, per model, the top-16-bit bucket of |δ|
 *     where the k-th largest lies; a window of buckets around it is set;
 *   one counting pass (countDeltas: θ₀ and both models decoded block by block, δ never stored)
 *     counts the low 15 bits of every |δ| in each window and how many lie above it, which makes the cut
 *     exact when rank k falls inside (a missed guess costs two more passes: the whole histogram,
 *     then its bucket);
 *   the merge pass computes δ again block by block, trims it to the cut (ties kept lowest index
 *     first, as maskBand), merges and rounds straight into the output's 16-bit words.
 * Same arithmetic and kept sets as magnitude-merge.ts's counted path, so the same bytes as the
 * reference backend: test/core/fast-magnitude.test.ts and fast-ties-stream.test.ts.
 */
import type { MethodSpec } from '../methods/registry';
import { keptRanks } from '../methods/sparsify';
import { type TensorJob, eachInputChunk } from '../tensor-job';
import { decodeTable } from './codec';
import type { FastCpuBackend, FastTensor } from './fast-cpu-backend';
import type { BandState } from './magnitude-band';
import { type Cut, EMPTY_CUT, FULL_CUT, cutAt, exactCut, windowAround } from './magnitude-cuts';
import { divisorScales, pairDivisors } from './magnitude-kernels';
import { HIGH_BUCKETS, INF_BITS, LOW_BUCKETS, bucketOfRank } from './magnitude-select';
import type { SimdKernels, SimdOperand } from './simd/simd-kernels';

/** Whether a fast magnitude merge (magnitude-merge.ts's fastMagnitudeApplies holds) can take this path. */
export function tiesPairStreamApplies(job: TensorJob<FastTensor>, spec: MethodSpec): boolean {
  const be = job.backend as FastCpuBackend;
  return (
    be.simdKernels !== undefined &&
    spec.sparsification === 'magnitude' &&
    spec.consensus === 'sign' &&
    job.inputs.length === 3 &&
    !job.diagnose
  );
}

/** Elements of the first chunk sampled for the guess, in RUNS contiguous runs (all of a smaller chunk). */
const SAMPLE = 1 << 15;
const RUNS = 128;

/** One tensor (tiesPairStreamApplies must hold); `record` gets each trimmed model's cut. */
export async function mergeTiesPairStream(
  job: TensorJob<FastTensor>,
  record: (model: number, cut: Cut) => void,
): Promise<void> {
  const be = job.backend as FastCpuBackend;
  const simd = be.simdKernels!;
  const models = job.inputs.slice(1);
  const ranks = models.map((m) =>
    m.params.density < 1 ? keptRanks('magnitude', job.numel, m.params.density, m.params.gamma).target : undefined,
  );
  const cuts = await countCuts(job, simd, ranks);
  cuts.forEach((cut, t) => cut && record(t, cut));
  const bands = cuts.map(
    (cut): BandState | undefined => cut && { lo: cut.bits, loLeft: cut.ties, hi: INF_BITS, hiLeft: 0 },
  );

  const [w0, w1] = models.map((m) => m.params.weight) as [number, number];
  const common = { w0, w1, ...divisorScales(pairDivisors(w0, w1, job.global.normalize)), lambda: job.global.lambda };
  for (let c = 0; c < job.numChunks; c++) {
    const ins = await job.load(c);
    const [x0, x1, base] = [ins[1]!, ins[2]!, ins[0]!].map((h) => be.operand(h)) as [
      SimdOperand,
      SimdOperand,
      SimdOperand,
    ];
    const merge = (to: Parameters<SimdKernels['tiesPairFrom']>[2]) =>
      simd.tiesPairFrom({ ...common, x0, x1, base }, bands, to);
    if (ins.every((h) => h.stored && !h.values)) await job.emit(be.pendingOver(ins, merge));
    else {
      // f32 inputs live in pooled buffers that may be reused once released: merged now.
      const out = be.scratch(ins[0]!.length);
      merge({ values: out });
      await job.emit(be.tensorOf(out));
    }
  }
}

/** Visits every chunk's inputs [base, model 1, model 2] in order. */
async function eachChunk(job: TensorJob<FastTensor>, visit: (ins: readonly FastTensor[]) => void): Promise<void> {
  if (job.numChunks === 1) return visit(await job.load(0)); // kept by the job for the merge pass
  await eachInputChunk(job, [0, 1, 2], visit);
}

/** A model's counting window: high buckets [first, first + count). */
interface Window {
  readonly first: number;
  readonly count: number;
}

/** Each model's exact cut (undefined: kept whole). */
async function countCuts(
  job: TensorJob<FastTensor>,
  simd: SimdKernels,
  ranks: readonly (number | undefined)[],
): Promise<(Cut | undefined)[]> {
  const be = job.backend as FastCpuBackend;
  const cuts = ranks.map((k) => (k !== undefined && k <= 0 ? EMPTY_CUT : undefined));
  const open = ranks.flatMap((k, t) => (k !== undefined && k > 0 ? [t] : []));
  if (open.length === 0) return cuts;
  const windows: Window[] = [];
  await eachChunk(job, (ins) => {
    const base = be.operand(ins[0]!);
    const xs = open.map((t, j) => {
      const x = be.operand(ins[t + 1]!);
      const w = (windows[j] ??= guessWindow(x, base, ranks[t]!, job.numel));
      return { x, ...w, slot: j as 0 | 1 };
    });
    simd.countDeltas(base, xs);
  });
  const missed: number[] = [];
  for (const [j, t] of open.entries()) {
    const k = ranks[t]!;
    const { first, count } = windows[j]!;
    const { low, below, above, nan } = simd.window(j as 0 | 1, count);
    const inside = job.numel - nan - below - above;
    if (k > job.numel - nan) cuts[t] = FULL_CUT;
    else if (k > above && k <= above + inside) {
      const at = bucketOfRank(low, k - above)!;
      cuts[t] = cutAt(first * LOW_BUCKETS + at.bucket, at.rank, low[at.bucket]!);
    } else missed.push(t);
    simd.clearWindow(j as 0 | 1, count);
  }
  for (const t of missed) cuts[t] = await countMissed(job, simd, t, ranks[t]!);
  return cuts;
}

/** The cut when the guessed window missed rank k: the whole top-16-bit histogram, then its bucket. */
async function countMissed(job: TensorJob<FastTensor>, simd: SimdKernels, t: number, k: number): Promise<Cut> {
  const be = job.backend as FastCpuBackend;
  const count = (first: number, hist?: Uint32Array) =>
    eachChunk(job, (ins) =>
      simd.countDeltas(be.operand(ins[0]!), [{ x: be.operand(ins[t + 1]!), first, count: 1, slot: 0 }], hist),
    );
  const hist = new Uint32Array(HIGH_BUCKETS);
  await count(0, hist);
  simd.clearWindow(0, 1);
  const high = bucketOfRank(hist, k)!; // rank k exists: the window pass counted at least k
  await count(high.bucket);
  const cut = exactCut(high, simd.window(0, 1).low);
  simd.clearWindow(0, 1);
  return cut;
}

const sampleCounts = new Uint32Array(HIGH_BUCKETS);

/**
 * The window around the bucket where rank k (scaled to the sample) falls in a sample of the first
 * chunk's |δ|: RUNS runs of contiguous elements spread evenly over it (a strided sample would
 * touch nearly every cache line of the inputs), or all of a small chunk.
 */
function guessWindow(x: SimdOperand, base: SimdOperand, k: number, numel: number): Window {
  const n = 'values' in x ? x.values.length : x.words.length;
  const run = n <= SAMPLE ? n : Math.floor(SAMPLE / RUNS);
  const starts = n <= SAMPLE ? [0] : Array.from({ length: RUNS }, (_, r) => Math.floor((r * (n - run)) / (RUNS - 1)));
  const lowest = countSample(x, base, starts, run);
  const sampled = starts.length * run;
  const guess = bucketOfRank(sampleCounts, Math.max(1, Math.round((k * sampled) / numel)))?.bucket ?? 0;
  sampleCounts.fill(0, lowest);
  return windowAround(guess); // 5 buckets at most: simd-kernels.ts's MAX_WINDOW
}

/** Counts the sample's |δ| into sampleCounts by their top 16 bits; returns the lowest bucket counted. */
function countSample(x: SimdOperand, base: SimdOperand, starts: readonly number[], run: number): number {
  const delta = new Float32Array(1);
  const bits = new Int32Array(delta.buffer);
  let lowest = HIGH_BUCKETS;
  const count = () => {
    const a = bits[0]! & 0x7fffffff;
    sampleCounts[a >>> 15]! += +(a <= INF_BITS);
    lowest = Math.min(lowest, a >>> 15);
  };
  if ('words' in x && 'words' in base) {
    // The common case, storage words: a tight loop through the decode tables.
    const [xw, bw] = [x.words, base.words];
    const [xt, bt] = [decodeTable(x.dtype).values, decodeTable(base.dtype).values];
    for (const start of starts)
      for (let i = start; i < start + run; i++) {
        delta[0] = xt[xw[i]!]! - bt[bw[i]!]!;
        count();
      }
  } else {
    const [xv, bv] = [valueAt(x), valueAt(base)];
    for (const start of starts)
      for (let i = start; i < start + run; i++) {
        delta[0] = xv(i) - bv(i);
        count();
      }
  }
  return lowest;
}

/** Element i of an operand as f32. */
function valueAt(x: SimdOperand): (i: number) => number {
  if ('values' in x) return (i) => x.values[i]!;
  const { words } = x;
  const { values } = decodeTable(x.dtype);
  return (i) => values[words[i]!]!;
}
