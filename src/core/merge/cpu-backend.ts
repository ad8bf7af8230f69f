/** The plain-TS reference backend: the living spec every GPU kernel is checked against. */
import { type DType, decodeToF32, encodeFromF32 } from '../dtype';
import { absHistogram } from '../kernels/abs-histogram';
import { disjointMean } from '../kernels/disjoint-mean';
import { dot } from '../kernels/dot';
import { electSign } from '../kernels/elect-sign';
import type { ElementwiseKernel, Operands } from '../kernels/elementwise';
import { signConflicts } from '../kernels/sign-conflicts';
import { matmul } from '../kernels/matmul';
import { weightedSum } from '../kernels/weighted-sum';
import type { TensorBackend } from './backend';

export class CpuBackend implements TensorBackend<Float32Array> {
  readonly name = 'cpu';
  onBytesFree: ((buffer: ArrayBufferLike) => void) | undefined;
  constructor(readonly maxChunkElements = 1 << 22) {}
  async load(bytes: Uint8Array, dtype: DType) {
    const values = decodeToF32(bytes, dtype);
    this.onBytesFree?.(bytes.buffer); // decoded into a new array
    return values;
  }
  async store(x: Float32Array, dtype: DType) {
    return encodeFromF32(x, dtype);
  }
  release(): void {}
  async elementwise<P, I extends readonly string[], S extends readonly string[]>(
    kernel: ElementwiseKernel<P, I, S>,
    operands: Operands<I, S, Float32Array>,
    params: P,
  ) {
    return kernel.cpu(operands, params);
  }
  async weightedSum(xs: readonly Float32Array[], ws: readonly number[]) {
    return weightedSum(xs, ws);
  }
  async absHistogram(x: Float32Array, pass: Parameters<typeof absHistogram>[1], counts: Uint32Array) {
    absHistogram(x, pass, counts);
  }
  async electSign(xs: readonly Float32Array[]) {
    return electSign(xs);
  }
  async disjointMean(xs: readonly Float32Array[], ws: readonly number[], sign: Float32Array, normalize: boolean) {
    return disjointMean(xs, ws, sign, normalize);
  }
  async dot(a: Float32Array, b: Float32Array) {
    return dot(a, b);
  }
  async signConflicts(xs: readonly Float32Array[]) {
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
  ) {
    return matmul(a, b, m, k, n, transA, transB, acc);
  }
}
