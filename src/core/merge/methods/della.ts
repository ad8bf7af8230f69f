/**
 * DELLA's sparsification (mergekit's della_magprune) for the task-vector core: each row's elements
 * are ranked by |δ| and kept with probabilities spanning density ± ε (kernels/della-keep.ts, on the
 * CPU), the draws hashed from (random_seed, model stream, element index) by the bernoulli-mask
 * kernel on the backend, so the mask is the same on every backend and at any chunking. Rows are
 * the last dimension of a 2-D weight (mergekit ranks along dim 1); a 1-D tensor is one row. A row
 * that straddles chunks is read whole from the neighbouring chunks.
 */
import { BERNOULLI_MASK } from '../../kernels/bernoulli-mask';
import { dellaKeep } from '../../kernels/della-keep';
import type { IndexedChunkVisitor } from '../select';
import type { TensorJob } from '../tensor-job';

export interface DellaSparsifier<T> {
  readonly kind: 'della';
  readonly density: number;
  readonly epsilon: number;
  readonly stream: number;
  /** Model's task vector chunk by chunk (rows that straddle chunks are read from both). */
  readonly deltas: IndexedChunkVisitor<T>;
}

/** Elements per row as mergekit ranks them: the size of dim 1 for 2-D, the whole tensor for 1-D. */
export function dellaRowLength(shape: readonly number[], numel: number): number {
  return shape.length < 2 ? numel : Math.max(1, numel / shape[0]!);
}

async function toF32<T>(job: TensorJob<T>, x: T): Promise<Float32Array> {
  const bytes = await job.backend.store(x, 'F32');
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** Chunk `c` of the DELLA-sparsified task vector (a new handle; `d` is chunk c of δ). */
export async function dellaSparsify<T>(job: TensorJob<T>, s: DellaSparsifier<T>, d: T, c: number): Promise<T> {
  const be = job.backend;
  const ce = job.chunkElements;
  const cols = dellaRowLength(job.shape, job.numel);
  const first = c * ce;
  const end = Math.min(first + ce, job.numel);
  // The whole rows that chunk c touches: [spanStart, spanEnd).
  const spanStart = Math.floor(first / cols) * cols;
  const spanEnd = Math.min(Math.ceil(end / cols) * cols, job.numel);
  const span = new Float32Array(spanEnd - spanStart);
  const place = (x: Float32Array, k: number) => {
    const from = Math.max(k * ce, spanStart);
    const to = Math.min(k * ce + x.length, spanEnd);
    span.set(x.subarray(from - k * ce, to - k * ce), from - spanStart);
  };
  for (let k = Math.floor(spanStart / ce); k * ce < spanEnd; k++) {
    if (k === c) place(await toF32(job, d), k);
    else await s.deltas(async (x) => place(await toF32(job, x), k), k);
  }
  const keep = dellaKeep(span, cols, s.density, s.epsilon).subarray(first - spanStart, end - spanStart);
  const keepHandle = await be.load(new Uint8Array(keep.buffer, keep.byteOffset, keep.byteLength), 'F32');
  const out = await be.elementwise(BERNOULLI_MASK, [d, keepHandle], {
    seed: job.seed,
    stream: s.stream,
    offset: first,
  });
  be.release(keepHandle);
  return out;
}
