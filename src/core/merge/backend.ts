/**
 * The kernel interface a merge runs on. Methods are written once against it; the CPU reference
 * (cpu-backend.ts) and the WebGPU backend (src/gpu) implement it kernel for kernel, except that
 * every simple element-wise kernel (src/core/kernels/elementwise.ts) goes through `elementwise`.
 * A handle `T` is a 1-D f32 working tensor (a chunk of a weight); the backend owns its memory.
 */
import type { DType } from '../dtype';
import type { HistogramPass } from '../kernels/abs-histogram';
import type { ElementwiseKernel, Operands } from '../kernels/elementwise';
import type { MethodSpec } from './methods/registry';

/** Where a backend wants input chunks read (see TensorBackend.inputBuffers). */
export interface InputBuffers {
  /** A buffer to read `bytes` into (a view of exactly that length), or undefined to read as usual. */
  take(bytes: number): Uint8Array | undefined;
  /** A buffer taken but not read into: the read failed or was dropped, or (`readInto` false) the source returned bytes of its own. */
  unused(view: Uint8Array, readInto?: boolean): void;
}

export interface TensorBackend<T = unknown> {
  /** e.g. `cpu` or `webgpu (llvmpipe …)`. */
  readonly name: string;
  /** Largest chunk, in elements, the backend wants to process at once. */
  readonly maxChunkElements: number;
  /** The chunk (elements, at most maxChunkElements) for a merge by this method, where it depends on the method. */
  chunkElementsFor?(spec: MethodSpec): number;
  /**
   * Told when the backend no longer reads a buffer it was given to `load` (at once where load copies
   * it; for the fast CPU backend, once its tensor and every sum over it are released), so whoever
   * reads for it may read into that buffer again: the merge's reader, or a tensor worker.
   */
  onBytesFree?: ((buffer: ArrayBufferLike) => void) | undefined;
  /** A buffer `store` returned, now written and no longer read: a later `store` may fill it again. */
  reuseOutput?(buffer: ArrayBuffer): void;
  /** Buffers to read input chunks into that `load` takes without a copy (mapped GPU staging memory). */
  readonly inputBuffers?: InputBuffers;

  /** Storage bytes → f32 working tensor. */
  load(bytes: Uint8Array, dtype: DType): Promise<T>;
  /** f32 working tensor → storage bytes (round-to-nearest-even for 16-bit types). */
  store(x: T, dtype: DType): Promise<Uint8Array>;
  release(x: T): void;

  /**
   * Any element-wise kernel (src/core/kernels/elementwise.ts), e.g. `elementwise(DELTA, [model, base], {})`:
   * a new tensor as long as the inputs (which must agree in length), the sides bound whole.
   */
  elementwise<P, I extends readonly string[], S extends readonly string[]>(
    kernel: ElementwiseKernel<P, I, S>,
    operands: Operands<I, S, T>,
    params: P,
  ): Promise<T>;
  weightedSum(xs: readonly T[], ws: readonly number[]): Promise<T>;
  /** Accumulates one radix-select pass over |x| into `counts` (length 2^pass.width). */
  absHistogram(x: T, pass: HistogramPass, counts: Uint32Array): Promise<void>;
  electSign(xs: readonly T[]): Promise<T>;
  disjointMean(xs: readonly T[], ws: readonly number[], sign: T, normalize: boolean): Promise<T>;
  dot(a: T, b: T): Promise<number>;
  /** Diagnostics: elements where two or more nonzero inputs disagree in sign. */
  signConflicts?(xs: readonly T[]): Promise<number>;
  /**
   * op(A)·op(B) (+ C₀) on row-major 2-D handles, for the SVD merges (src/core/linalg):
   * A [m, k] (transA: stored [k, m]), B [k, n] (transB: stored [n, k]), C₀ and result [m, n].
   * Optional: without it the SVD code moves its operands through the CPU twin (kernels/matmul.ts).
   */
  matmul?(a: T, b: T, m: number, k: number, n: number, transA: boolean, transB: boolean, acc?: T): Promise<T>;

  /** Frees everything (device, pools). */
  dispose?(): Promise<void>;
}
