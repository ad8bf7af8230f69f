/**
 * The fast CPU backend: the TensorBackend the CLI, and the page without WebGPU, merge with.
 * Bit-identical to the plain-TS reference (cpu-backend.ts, the readable spec) kernel for kernel:
 * table-driven f16/bf16 decode and integer RNE encode (codec.ts), single-pass kernels with the
 * reference's arithmetic order (kernels.ts), working buffers reused through a pool.
 * A loaded 16-bit tensor stays in storage form until a kernel needs f32 values: the weighted sum
 * and the task vector read it through the decode table in the same pass (fused.ts), so task
 * arithmetic never writes decoded copies of its inputs.
 * Kernels whose reference twins are already one plain loop (abs histogram, dot, sign conflicts,
 * the sparsification masks, AIM, matmul) run those twins, so this backend cannot drift from them.
 */
import type { DType } from '../../dtype';
import { itemSize } from '../../dtype';
import { type HistogramPass, absHistogram } from '../../kernels/abs-histogram';
import { DELTA } from '../../kernels/delta';
import { dot } from '../../kernels/dot';
import type { ElementwiseKernel, Operands } from '../../kernels/elementwise';
import { matmul } from '../../kernels/matmul';
import { signConflicts } from '../../kernels/sign-conflicts';
import type { TensorBackend } from '../backend';
import { Float32Pool } from './buffer-pool';
import { type DecodeTable, decodeInto, decodeTable, decodeWords, encodeFrom, words16 } from './codec';
import { type Words, deltaWords, weightedSumWords } from './fused';
import { deltaInto, disjointMeanInto, electSignInto, weightedSumInto } from './kernels';

/** A working tensor: f32 values, or 16-bit storage words not decoded yet. */
export class FastTensor {
  values: Float32Array | undefined;
  stored: { readonly words: Uint16Array; readonly table: DecodeTable } | undefined;
  constructor(readonly length: number) {}
}

export class FastCpuBackend implements TensorBackend<FastTensor> {
  readonly name = 'cpu';
  private readonly pool = new Float32Pool(128 * 2 ** 20);
  /**
   * 4.5 Mi elements: Qwen2.5-0.5B's MLP weights (4.36 M) stay one chunk, so TIES keeps their task
   * vectors between its passes; a multi-chunk tensor (the embedding) holds less at once.
   */
  constructor(readonly maxChunkElements = 4.5 * 2 ** 20) {}

  private wrap(values: Float32Array): FastTensor {
    const t = new FastTensor(values.length);
    t.values = values;
    return t;
  }
  private fresh(n: number): FastTensor {
    return this.wrap(this.pool.take(n));
  }
  /** A pooled working buffer of `n` elements (contents unspecified); hand it back with `recycle`. */
  scratch(n: number): Float32Array {
    return this.pool.take(n);
  }
  recycle(x: Float32Array): void {
    this.pool.give(x);
  }
  /** f32 values as a tensor of this backend (released into the pool). */
  tensorOf(values: Float32Array): FastTensor {
    return this.wrap(values);
  }
  /** The tensor's f32 values, decoding it on first use (the buffer is freed with the tensor). */
  valuesOf(t: FastTensor): Float32Array {
    return this.f32(t);
  }
  /** The tensor's f32 values, decoding it on first use. */
  private f32(t: FastTensor): Float32Array {
    if (!t.values) {
      const out = this.pool.take(t.length);
      decodeWords(t.stored!.words, t.stored!.table, out);
      t.values = out;
    }
    return t.values;
  }
  /** Storage form of every tensor, or undefined when one is decoded only. */
  private words(ts: readonly FastTensor[]): Words[] | undefined {
    if (!ts.every((t) => t.stored)) return undefined;
    return ts.map((t) => ({ words: t.stored!.words, table: t.stored!.table.values }));
  }

  async load(bytes: Uint8Array, dtype: DType): Promise<FastTensor> {
    const n = bytes.byteLength / itemSize(dtype);
    if (dtype === 'F32') {
      const out = this.pool.take(n);
      decodeInto(bytes, dtype, out);
      return this.wrap(out);
    }
    const t = new FastTensor(n);
    t.stored = { words: words16(bytes, n), table: decodeTable(dtype) };
    return t;
  }
  async store(x: FastTensor, dtype: DType): Promise<Uint8Array> {
    return encodeFrom(this.f32(x), dtype);
  }
  release(x: FastTensor): void {
    if (x.values) this.pool.give(x.values);
    x.values = undefined;
    x.stored = undefined;
  }

  async elementwise<P, I extends readonly string[], S extends readonly string[]>(
    kernel: ElementwiseKernel<P, I, S>,
    operands: Operands<I, S, FastTensor>,
    params: P,
  ): Promise<FastTensor> {
    const ts = operands as unknown as FastTensor[];
    if (kernel === (DELTA as unknown)) {
      const [model, base] = ts as [FastTensor, FastTensor];
      const out = this.fresh(model.length);
      const stored = this.words([model, base]);
      if (stored) deltaWords(stored[0]!, stored[1]!, out.values!);
      else deltaInto(this.f32(model), this.f32(base), out.values!);
      return out;
    }
    const values = ts.map((t) => this.f32(t)) as unknown as Operands<I, S, Float32Array>;
    return this.wrap(kernel.cpu(values, params));
  }
  async weightedSum(xs: readonly FastTensor[], ws: readonly number[]): Promise<FastTensor> {
    const out = this.fresh(xs[0]?.length ?? 0);
    const stored = xs.length > 0 && xs.length <= 3 ? this.words(xs) : undefined;
    if (stored) weightedSumWords(stored, ws, out.values!);
    else
      weightedSumInto(
        xs.map((x) => this.f32(x)),
        ws,
        out.values!,
      );
    return out;
  }
  async absHistogram(x: FastTensor, pass: HistogramPass, counts: Uint32Array): Promise<void> {
    absHistogram(this.f32(x), pass, counts);
  }
  async electSign(xs: readonly FastTensor[]): Promise<FastTensor> {
    const out = this.fresh(xs[0]?.length ?? 0);
    electSignInto(
      xs.map((x) => this.f32(x)),
      out.values!,
    );
    return out;
  }
  async disjointMean(
    xs: readonly FastTensor[],
    ws: readonly number[],
    sign: FastTensor,
    normalize: boolean,
  ): Promise<FastTensor> {
    const out = this.fresh(sign.length);
    disjointMeanInto(
      xs.map((x) => this.f32(x)),
      ws,
      this.f32(sign),
      normalize,
      out.values!,
    );
    return out;
  }
  async dot(a: FastTensor, b: FastTensor): Promise<number> {
    return dot(this.f32(a), this.f32(b));
  }
  async signConflicts(xs: readonly FastTensor[]): Promise<number> {
    return signConflicts(xs.map((x) => this.f32(x)));
  }
  async matmul(
    a: FastTensor,
    b: FastTensor,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
    acc?: FastTensor,
  ): Promise<FastTensor> {
    return this.wrap(matmul(this.f32(a), this.f32(b), m, k, n, transA, transB, acc && this.f32(acc)));
  }
  async dispose(): Promise<void> {
    this.pool.clear();
  }
}
