/**
 * Methods that combine a few vectors per tensor, or per row or column of it, with coefficients
 * from their Gram matrix (model_stock, nuslerp): out = [base +] Σ_k c_k(group) · v_k.
 *   all:  one group, the flattened tensor: dot products and the weighted sum on the backend;
 *   rows: groups along the last dimension (each row of a 2-D weight);
 *   cols: groups along the first dimension (each column of a 2-D weight; mergekit's transpose(0, −1)).
 * A 1-D tensor is one group either way. Per-row and per-column Gram matrices and combinations are
 * computed on the CPU (the chunks are read back), summed in f64 across chunks.
 */
import type { TensorJob } from '../tensor-job';

export type Grouping = 'all' | 'rows' | 'cols';

/** The group of each tensor element, and how many groups there are. */
export function groupsOf(shape: readonly number[], numel: number, grouping: Grouping) {
  if (grouping === 'all' || shape.length < 2) return { count: 1, of: (_: number) => 0 };
  if (grouping === 'rows') {
    const cols = shape[shape.length - 1]!;
    return { count: numel / cols, of: (e: number) => Math.floor(e / cols) };
  }
  const stride = numel / shape[0]!;
  return { count: stride, of: (e: number) => e % stride };
}

/** The vectors to combine for chunk c (new handles, released by the caller). */
export type VectorsOf<T> = (ins: readonly T[]) => Promise<T[]>;

async function toF32<T>(job: TensorJob<T>, x: T): Promise<Float32Array> {
  const bytes = await job.backend.store(x, 'F32');
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** Per group, the K×K Gram matrix of the vectors (row-major, f64). */
export async function groupGrams<T>(job: TensorJob<T>, vectorsOf: VectorsOf<T>, grouping: Grouping) {
  const be = job.backend;
  const groups = groupsOf(job.shape, job.numel, grouping);
  let grams: Float64Array[] = [];
  for (let c = 0; c < job.numChunks; c++) {
    const vs = await vectorsOf(await job.load(c));
    const k = vs.length;
    if (!grams.length) grams = Array.from({ length: groups.count }, () => new Float64Array(k * k));
    if (groups.count === 1 && grouping === 'all') {
      for (let i = 0; i < k; i++)
        for (let j = i; j < k; j++)
          grams[0]![i * k + j] = grams[0]![j * k + i] = grams[0]![i * k + j]! + (await be.dot(vs[i]!, vs[j]!));
    } else {
      const xs = await Promise.all(vs.map((v) => toF32(job, v)));
      const offset = c * job.chunkElements;
      for (let e = 0; e < xs[0]!.length; e++) {
        const g = grams[groups.of(offset + e)]!;
        for (let i = 0; i < k; i++) for (let j = i; j < k; j++) g[i * k + j]! += xs[i]![e]! * xs[j]![e]!;
      }
    }
    vs.forEach((v) => be.release(v));
  }
  for (const g of grams) {
    const k = Math.round(Math.sqrt(g.length));
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) g[i * k + j] = g[j * k + i]!;
  }
  return grams;
}

/** Emits [base +] Σ_k coefficients[group][k] · v_k, chunk by chunk (base: job input 0). */
export async function emitCombination<T>(
  job: TensorJob<T>,
  vectorsOf: VectorsOf<T>,
  withBase: boolean,
  coefficients: readonly (readonly number[])[],
  grouping: Grouping,
): Promise<void> {
  const be = job.backend;
  const groups = groupsOf(job.shape, job.numel, grouping);
  for (let c = 0; c < job.numChunks; c++) {
    const ins = await job.load(c);
    const vs = await vectorsOf(ins);
    let out: T;
    if (groups.count === 1) {
      const cs = coefficients[0]!;
      out = withBase ? await be.weightedSum([ins[0]!, ...vs], [1, ...cs]) : await be.weightedSum(vs, cs);
    } else {
      const xs = await Promise.all(vs.map((v) => toF32(job, v)));
      const base = withBase ? await toF32(job, ins[0]!) : undefined;
      const o = new Float32Array(xs[0]!.length);
      const offset = c * job.chunkElements;
      const f = Math.fround;
      for (let e = 0; e < o.length; e++) {
        const cs = coefficients[groups.of(offset + e)]!;
        let acc = base ? base[e]! : 0;
        for (let k = 0; k < xs.length; k++) acc = f(acc + f(f(cs[k]!) * xs[k]![e]!));
        o[e] = acc;
      }
      out = await be.load(new Uint8Array(o.buffer), 'F32');
    }
    vs.forEach((v) => be.release(v));
    await job.emit(out);
  }
}
