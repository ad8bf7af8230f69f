/**
 * The fast CPU backend: the TensorBackend the CLI, and the page without WebGPU, merge with.
 * Bit-identical to the plain-TS reference (cpu-backend.ts, the readable spec) kernel for kernel:
 * table-driven f16/bf16 decode and integer RNE encode (codec.ts), single-pass kernels with the
 * reference's arithmetic order (kernels.ts), and working buffers reused through a pool.
 * Kernels whose arithmetic the reference twins already do in one plain loop (abs histogram, dot,
 * sign conflicts, the sparsification masks, AIM, matmul) run those twins themselves, so this
 * backend can never drift from them.
 */
import type { DType } from '../../dtype';
import { type HistogramPass, absHistogram } from '../../kernels/abs-histogram';
import { DELTA } from '../../kernels/delta';
import { dot } from '../../kernels/dot';
import type { ElementwiseKernel, Operands } from '../../kernels/elementwise';
import { matmul } from '../../kernels/matmul';
import { signConflicts } from '../../kernels/sign-conflicts';
import { itemSize } from '../../dtype';
import type { TensorBackend } from '../backend';
import { Float32Pool } from './buffer-pool';
import { decodeInto, encodeFrom } from './codec';
import { deltaInto, disjointMeanInto, electSignInto, weightedSumInto } from './kernels';

export class FastCpuBackend implements TensorBackend<Float32Array> {
  readonly name = 'cpu';
  private readonly pool = new Float32Pool();
  constructor(readonly maxChunkElements = 1 << 22) {}

  async load(bytes: Uint8Array, dtype: DType): Promise<Float32Array> {
    const out = this.pool.take(bytes.byteLength / itemSize(dtype));
    decodeInto(bytes, dtype, out);
    return out;
  }
  async store(x: Float32Array, dtype: DType): Promise<Uint8Array> {
    return encodeFrom(x, dtype);
  }
  release(x: Float32Array): void {
    this.pool.give(x);
  }

  async elementwise<P, I extends readonly string[], S extends readonly string[]>(
    kernel: ElementwiseKernel<P, I, S>,
    operands: Operands<I, S, Float32Array>,
    params: P,
  ): Promise<Float32Array> {
    if (kernel === (DELTA as unknown)) {
      const [model, base] = operands as unknown as [Float32Array, Float32Array];
      const out = this.pool.take(model.length);
      deltaInto(model, base, out);
      return out;
    }
    return kernel.cpu(operands, params);
  }
  async weightedSum(xs: readonly Float32Array[], ws: readonly number[]): Promise<Float32Array> {
    const out = this.pool.take(xs[0]?.length ?? 0);
    weightedSumInto(xs, ws, out);
    return out;
  }
  async absHistogram(x: Float32Array, pass: HistogramPass, counts: Uint32Array): Promise<void> {
    absHistogram(x, pass, counts);
  }
  async electSign(xs: readonly Float32Array[]): Promise<Float32Array> {
    const out = this.pool.take(xs[0]?.length ?? 0);
    electSignInto(xs, out);
    return out;
  }
  async disjointMean(
    xs: readonly Float32Array[],
    ws: readonly number[],
    sign: Float32Array,
    normalize: boolean,
  ): Promise<Float32Array> {
    const out = this.pool.take(sign.length);
    disjointMeanInto(xs, ws, sign, normalize, out);
    return out;
  }
  async dot(a: Float32Array, b: Float32Array): Promise<number> {
    return dot(a, b);
  }
  async signConflicts(xs: readonly Float32Array[]): Promise<number> {
    return signConflicts(xs);
  }
  async matmul(
    a: Float32Array,
    b: Float32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
    acc?: Float32Array,
  ): Promise<Float32Array> {
    return matmul(a, b, m, k, n, transA, transB, acc);
  }
  async dispose(): Promise<void> {
    this.pool.clear();
  }
}
