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
import { IdleBuffers } from '../idle-buffers';
import { Float32Pool } from './buffer-pool';
import { type DecodeTable, decodeInto, decodeTable, decodeWords, encodeFrom, words16 } from './codec';
import { type Words, deltaWords, weightedSumWords } from './fused';
import { deltaInto, disjointMeanInto, electSignInto, weightedSumInto } from './kernels';
import { type SimdKernels, type SimdOperand, type SimdTarget, simdKernels } from './simd/simd-kernels';

/**
 * 16-bit words as loaded (a view of the loaded bytes), shared by their tensor and the weighted sums
 * waiting to read them; `free` runs when the last of those lets go, and the bytes may be reused.
 */
export class StoredWords {
  private refs = 1;
  constructor(
    readonly words: Uint16Array,
    readonly table: DecodeTable,
    readonly dtype: 'F16' | 'BF16',
    private readonly free: (() => void) | undefined,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  drop(): void {
    if (--this.refs === 0) this.free?.();
  }
}

/** A result over storage words not computed yet (Σ w_t · words_t, TIES of two models), and the words it holds on to. */
export interface Pending {
  /** Computes the result into f32 values or 16-bit words, on the SIMD kernels. */
  readonly compute: (target: SimdTarget) => void;
  readonly holds: readonly StoredWords[];
}

/** A working tensor: f32 values, 16-bit storage words not decoded yet, or a result over such words not computed yet. */
export class FastTensor {
  values: Float32Array | undefined;
  stored: StoredWords | undefined;
  /** Computed on first use: by `store` straight into 16-bit words (task arithmetic's and TIES's last pass). */
  pending: Pending | undefined;
  constructor(readonly length: number) {}
}

export class FastCpuBackend implements TensorBackend<FastTensor> {
  readonly name = 'cpu';
  private readonly pool = new Float32Pool(128 * 2 ** 20);
  /** See TensorBackend.onBytesFree: a loaded buffer is free once its tensor and every sum over it are released. */
  onBytesFree: ((buffer: ArrayBufferLike) => void) | undefined;
  /** Output buffers handed back once written (`reuseOutput`), for `store` to fill again. */
  private readonly spareOutputs = new IdleBuffers<ArrayBuffer>(32 * 2 ** 20);
  /**
   * 4.5 Mi elements: Qwen2.5-0.5B's MLP weights (4.36 M) stay one chunk, so TIES keeps their task
   * vectors between its passes; a multi-chunk tensor (the embedding) holds less at once.
   */
  constructor(
    readonly maxChunkElements = 4.5 * 2 ** 20,
    /** The wasm SIMD kernels; undefined (where wasm SIMD is missing, or asked for) runs the scalar kernels. */
    private readonly simd: SimdKernels | undefined = simdKernels(),
  ) {}

  private wrap(values: Float32Array): FastTensor {
    const t = new FastTensor(values.length);
    t.values = values;
    return t;
  }
  private fresh(n: number): FastTensor {
    return this.wrap(this.pool.take(n));
  }
  /** The wasm SIMD kernels this backend runs on (undefined: the scalar ones). */
  get simdKernels(): SimdKernels | undefined {
    return this.simd;
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
  /**
   * The task vector model − base into `out`, on the SIMD kernels (only where `simdKernels` is set);
   * θ₀ is decoded in the same pass when it is still in storage form, and keeps its values; `hist`
   * gets the |δ| bits counted by their top 16 bits (magnitude-select.ts's countHigh).
   */
  simdDelta(model: FastTensor, base: FastTensor, out: Float32Array, hist?: Uint32Array): void {
    const simd = this.simd!;
    if (base.stored && !base.values) {
      const values = this.pool.take(base.length);
      simd.subtract(this.operand(model), this.operand(base), out, values, hist);
      base.values = values;
    } else simd.subtract(this.operand(model), { values: this.f32(base) }, out, undefined, hist);
  }
  /** The tensor's f32 values, decoding it on first use. */
  private f32(t: FastTensor): Float32Array {
    if (!t.values) {
      const out = this.pool.take(t.length);
      if (t.pending) t.pending.compute({ values: out });
      else if (this.simd) this.simd.decode(t.stored!.words, t.stored!.dtype, out);
      else decodeWords(t.stored!.words, t.stored!.table, out);
      t.values = out;
      this.settle(t);
    }
    return t.values;
  }
  /** A pending sum is computed (or dropped): it lets go of the words it read. */
  private settle(t: FastTensor): void {
    t.pending?.holds.forEach((h) => h.drop());
    t.pending = undefined;
  }
  /**
   * A tensor computed on first use from storage-form inputs (SIMD kernels only): `compute` may read
   * their words until then, which the tensor holds on to.
   */
  pendingOver(inputs: readonly FastTensor[], compute: (target: SimdTarget) => void): FastTensor {
    const t = new FastTensor(inputs[0]!.length);
    t.pending = { compute, holds: inputs.flatMap((x) => (x.stored ? [x.stored.retain()] : [])) };
    return t;
  }
  /** The tensor as a SIMD operand: its words while it is in storage form, else its f32 values. */
  operand(t: FastTensor): SimdOperand {
    return t.stored && !t.values ? { words: t.stored.words, dtype: t.stored.dtype } : { values: this.f32(t) };
  }
  /** Storage form of every tensor, or undefined when one is decoded only. */
  private words(ts: readonly FastTensor[]): Words[] | undefined {
    if (!ts.every((t) => t.stored)) return undefined;
    return ts.map((t) => ({ words: t.stored!.words, table: t.stored!.table.values }));
  }

  async load(bytes: Uint8Array, dtype: DType): Promise<FastTensor> {
    const n = bytes.byteLength / itemSize(dtype);
    const freeBytes = () => this.onBytesFree?.(bytes.buffer);
    if (dtype === 'F32') {
      const out = this.pool.take(n);
      decodeInto(bytes, dtype, out);
      freeBytes();
      return this.wrap(out);
    }
    const t = new FastTensor(n);
    const words = words16(bytes, n);
    const view = words.buffer === bytes.buffer;
    t.stored = new StoredWords(words, decodeTable(dtype), dtype, view ? freeBytes : undefined);
    if (!view) freeBytes(); // words16 copied them
    return t;
  }
  /** A buffer `store` returned, written out and no longer read: the next store of its size may fill it. */
  reuseOutput(buffer: ArrayBuffer): void {
    this.spareOutputs.give(buffer);
  }
  private outputWords(n: number): Uint16Array {
    const spare = this.spareOutputs.take(n * 2, 1);
    return spare ? new Uint16Array(spare) : new Uint16Array(n);
  }
  async store(x: FastTensor, dtype: DType): Promise<Uint8Array> {
    if (!this.simd || dtype === 'F32') return encodeFrom(this.f32(x), dtype);
    const out = this.outputWords(x.length);
    if (x.pending) {
      x.pending.compute({ words: out, dtype });
      this.settle(x);
    } else this.simd.encode(this.f32(x), dtype, out);
    return new Uint8Array(out.buffer);
  }
  release(x: FastTensor): void {
    if (x.values) this.pool.give(x.values);
    x.values = undefined;
    x.stored?.drop();
    x.stored = undefined;
    this.settle(x);
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
      if (this.simd) this.simd.subtract(this.operand(model), this.operand(base), out.values!);
      else {
        const stored = this.words([model, base]);
        if (stored) deltaWords(stored[0]!, stored[1]!, out.values!);
        else deltaInto(this.f32(model), this.f32(base), out.values!);
      }
      return out;
    }
    const values = ts.map((t) => this.f32(t)) as unknown as Operands<I, S, Float32Array>;
    return this.wrap(kernel.cpu(values, params));
  }
  async weightedSum(xs: readonly FastTensor[], ws: readonly number[]): Promise<FastTensor> {
    if (this.simd && xs.length > 0) {
      // Storage words are never written after load, so the sum can wait for its use; f32 buffers can be recycled, so not those.
      const t = new FastTensor(xs[0]!.length);
      const operands = xs.map((x) => this.operand(x));
      if (operands.every((o) => 'words' in o)) {
        const simd = this.simd;
        const weights = [...ws];
        t.pending = {
          compute: (to) => simd.weightedSum(operands, weights, to),
          holds: xs.map((x) => x.stored!.retain()),
        };
      } else this.simd.weightedSum(operands, ws, { values: (t.values = this.pool.take(t.length)) });
      return t;
    }
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
