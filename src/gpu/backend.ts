/**
 * The WebGPU TensorBackend: every kernel of src/core/merge/backend.ts as a WGSL compute shader
 * (shaders/*.wgsl, described in kernels.ts), each checked against its CPU twin in src/core/kernels
 * (test/gpu). Simple element-wise kernels (delta, masks, AIM) share one method, `elementwise`,
 * driven by their descriptions; the rest (chained sums, histograms, dot, dtype codecs) have their own.
 *
 * Handles are GpuTensors (gpu-tensor.ts): 1-D f32 GPU buffers, except that a loaded f16/bf16 chunk
 * stays packed (16-bit words) until a kernel needs f32, and a weighted sum (or delta) with packed
 * inputs reads the words directly (fused.ts); the sum, pending, is narrowed to 16 bits in the same
 * kernel by `store` (~8 bytes moved per element of a 3-model TA, not ~44), or computed per f32 use.
 * With `batchSubmits` (the default on hardware adapters), operations are encoded into one open GpuOp
 * (op.ts) submitted only when a result must come back (store, dot, absHistogram), before the next
 * upload, before work encoded elsewhere (packQ4, sync), or when the buffers it holds grow past two
 * chunks: a TA chunk is 3 submits and one mapAsync. Without it, each operation is submitted as encoded.
 *   - compute-only operations (load, delta, masks, sums) resolve without waiting for the GPU: the
 *     caller can read the next chunk from disk while the GPU works (queue order does the rest);
 *   - uploads go only to buffers acquired while the op is open, never to one its encoded work uses:
 *     handles released while it is open go back to the pool after its submit, as its temporaries do.
 * Windowing and 2-D grid folding happen in GpuOp.elementwise; the radix-select histogram runs on the GPU.
 */
import type { DType } from '../core/dtype';
import { itemSize } from '../core/dtype';
import type { HistogramPass } from '../core/kernels/abs-histogram';
import type { Q4BlockSize, Q4Packed } from '../core/kernels/q4-pack';
import type { ElementwiseKernel, Operands } from '../core/kernels/elementwise';
import type { InputBuffers, TensorBackend } from '../core/merge/backend';
import type { MethodRow } from '../core/merge/methods/registry';
import { DEFAULT_CHUNK_ELEMENTS, HELD_CHUNKS, methodChunks, type WebGpuBackendOptions } from './backend-options';
import type { WebGpuStats } from './backend-options';
import { GpuContext } from './context';
import { type AdapterReport, GpuError, acquireGpuDevice, barriersAreCostly, isSoftwareAdapter } from './device';
import { DOT_BLOCK, KERNELS, type KernelDescription, type KernelName } from './kernels';
import { encodeDisjointMean, encodeWeightedSum, fourInputs } from './chained';
import { FUSED_MAX_INPUTS, encodeDecode16, encodeEncode16, encodePackedSum } from './fused';
import { BufferPins, GpuTensor, live } from './gpu-tensor';
import { GpuLinalg } from './linalg';
import { type ElementwiseArgs, GRANULE, type GpuOp, type Operand } from './op';
import { type Q4PackOptions, type Q4Source, packQ4OnGpu } from './quantize';

export { GpuTensor } from './gpu-tensor';
export type { WebGpuBackendOptions, WebGpuStats } from './backend-options';

export class WebGpuBackend implements TensorBackend<GpuTensor> {
  readonly name: string;
  readonly maxChunkElements: number;
  readonly chunkElementsFor: (spec: MethodRow) => number; // holdsTaskVectors: selectChunkElements, else streamChunkElements
  onBytesFree: ((buffer: ArrayBufferLike) => void) | undefined; // told at once: uploads copy the bytes
  reuseOutput = (buffer: ArrayBuffer): void => this.gpu.spareOutputs.give(buffer); // a read-back fills it again
  readonly inputBuffers: InputBuffers; // mapped staging buffers input chunks are read into (Node files)
  private linalg: GpuLinalg | undefined; // the SVD merges' matmul (src/gpu/linalg.ts), on this backend's context
  /** The operation being encoded (not yet submitted), the bytes released into it, whether it uploads. */
  private open: GpuOp | undefined;
  private heldBytes = 0;
  private openHoldsUpload = false;
  private readonly pins = new BufferPins(); // buffers that pending sums still read
  private readonly batchSubmits: boolean;
  private readonly histogramEntry: 'main' | 'main_global';
  /** The open op holds a pending sum's values (f32()) for work not yet encoded: no submit till it closes. */
  private lendsTemps = false;

  private constructor(
    private readonly gpu: GpuContext,
    readonly adapter: AdapterReport,
    opts: WebGpuBackendOptions,
  ) {
    this.name = `webgpu (${adapter.name})`;
    this.inputBuffers = gpu.staging;
    if (gpu.maxBindingBytes < 8 * GRANULE)
      throw new GpuError(
        `storage binding limit ${gpu.maxBindingBytes} B is below the ${8 * GRANULE} B the backend needs`,
      );
    // A whole chunk must fit in one buffer; windows handle the binding limit.
    const bufferElems = Math.floor(Math.min(adapter.limits.maxBufferSize, 2 ** 32) / 8);
    this.maxChunkElements = Math.max(1, Math.min(opts.maxChunkElements ?? DEFAULT_CHUNK_ELEMENTS, bufferElems));
    this.chunkElementsFor = methodChunks(opts, this.maxChunkElements);
    this.batchSubmits = opts.batchSubmits ?? !isSoftwareAdapter(adapter.name);
    this.histogramEntry = (opts.workgroupHistograms ?? !barriersAreCostly(adapter.name)) ? 'main' : 'main_global';
  }

  /** A backend on the shared device of `gpu` (a new device if the last one was lost). */
  static async create(gpu: GPU | undefined, opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const dev = await acquireGpuDevice(gpu);
    return new WebGpuBackend(await GpuContext.create(dev.device, dev.adapter.limits, opts), dev.adapter, opts);
  }

  stats = (): WebGpuStats => ({ ...this.gpu.poolStats(), ...this.gpu.counters });

  private alloc(n: number, label: string): GpuTensor {
    return new GpuTensor(n, this.gpu.storage.acquire(Math.max(4, n * 4), label));
  }

  /**
   * x's f32 values, for work encoded next into the open operation: a packed tensor decoded once; a pending sum computed
   * afresh into a temporary of that operation at each use (TIES's cached task vectors hold no f32 copy), or, with `keep`, once.
   */
  private f32(x: GpuTensor, keep = false): GPUBuffer {
    const n = live(x).length;
    if (x.pending && !keep) {
      const op = this.encoding('weighted-sum16');
      const values = op.temp(n * 4, 'weighted-sum16');
      if (n) encodePackedSum(op, x.pending, n, values);
      this.lendsTemps = true;
      return values;
    }
    if (x.pending) {
      const sum = x.pending;
      x.pending = undefined;
      x.buffer = this.gpu.storage.acquire(Math.max(4, n * 4), 'weighted-sum16');
      if (n) encodePackedSum(this.encoding('weighted-sum16'), sum, n, x.buffer);
      for (const input of sum.inputs) if (this.pins.unpin(input.buffer)) this.toPool(input.buffer);
    } else if (x.packed) {
      const words = x.buffer!;
      x.buffer = this.gpu.storage.acquire(Math.max(4, n * 4), `decode:${x.packed}`);
      if (n) encodeDecode16(this.encoding('decode'), words, n, x.packed, x.buffer);
      x.packed = undefined;
      this.free(words);
    } else return x.buffer!;
    if (!this.batchSubmits && !this.lendsTemps) this.flush();
    return x.buffer;
  }

  /** Σ w_t x_t over `xs` (packed, or f32 values), computed when first used (by `store`, in 16 bits). */
  private pendingSum(xs: readonly GpuTensor[], ws: readonly number[]): GpuTensor {
    const sum = new GpuTensor(xs[0]!.length);
    sum.pending = { inputs: xs.map((x) => ({ buffer: x.buffer!, dtype: x.packed ?? 'F32' })), ws: [...ws] };
    for (const input of sum.pending.inputs) this.pins.pin(input.buffer);
    return sum;
  }

  private f32s = (xs: readonly GpuTensor[]): GPUBuffer[] => xs.map((x) => this.f32(x));

  /** The common length of `xs` (all live), or a GpuError naming `what`. */
  private sameLength(what: string, xs: readonly GpuTensor[], n = xs[0] ? live(xs[0]).length : 0): number {
    for (const x of xs) if (live(x).length !== n) throw new GpuError(`${what}: lengths differ (${n} vs ${x.length})`);
    return n;
  }

  /** The open operation new work is encoded into (begun when none is). */
  private encoding(label: string): GpuOp {
    this.gpu.check();
    return (this.open ??= this.gpu.begin(label));
  }

  /** The open operation (or a new one), closed: the caller submits it, with a readback. */
  private closing(label: string): GpuOp {
    const op = this.encoding(label);
    this.open = undefined;
    this.heldBytes = 0;
    this.openHoldsUpload = false;
    this.lendsTemps = false;
    return op;
  }

  /**
   * Submits the open operation first when it already carries an upload: one upload per submit keeps
   * the host memory that uploads are staged in (Dawn's, and lavapipe's device memory) at what one
   * submit per operation used; batching a chunk's three uploads into one submit cost ~200 MB of peak RSS.
   */
  private beforeUpload(): void {
    if (this.openHoldsUpload) this.flush();
  }

  /** Submits the open operation, if any. */
  private flush(): void {
    if (this.open) void this.closing('flush').submit();
  }

  /** A new n-element tensor written by `encode` into the open operation (nothing encoded when n = 0). */
  private produce(label: string, n: number, encode: (op: GpuOp, out: GPUBuffer) => void): GpuTensor {
    this.gpu.check();
    const out = this.alloc(n, label);
    if (n === 0) return out;
    encode(this.encoding(label), out.buffer!);
    if (!this.batchSubmits) this.flush();
    return out;
  }

  // ---------------------------------------------------------------- kernels

  async load(bytes: Uint8Array, dtype: DType): Promise<GpuTensor> {
    this.gpu.check();
    const n = bytes.byteLength / itemSize(dtype);
    if (!Number.isInteger(n)) throw new GpuError(`${bytes.byteLength} bytes is not a whole number of ${dtype} values`);
    if (n) this.beforeUpload();
    // F32 as is; F16/BF16 packed: the raw words, decoded only if a kernel needs f32 (f32()).
    const loaded = new GpuTensor(n, this.gpu.storage.acquire(Math.max(4, bytes.byteLength), 'load'));
    if (dtype !== 'F32') loaded.packed = dtype;
    this.gpu.upload(loaded.buffer!, bytes, 0, () => this.encoding(`load:${dtype}`));
    this.onBytesFree?.(bytes.buffer);
    if (n) this.encoding(`load:${dtype}`); // the upload's staging goes with this op's submit
    this.openHoldsUpload ||= n > 0;
    return loaded;
  }

  async store(x: GpuTensor, dtype: DType): Promise<Uint8Array> {
    const n = live(x).length;
    this.gpu.check();
    if (n === 0) return new Uint8Array(0);
    if (x.packed === dtype) return this.closing(`store:${dtype}`).readBack(x.buffer!, n * 2);
    if (x.pending && dtype !== 'F32') {
      // The sum narrowed to 16 bits in the kernel that computes it: 2 bytes per element written and read back.
      const op = this.closing(`store:${dtype}`);
      const packed = op.temp(Math.ceil(n / 2) * 4, 'packed16');
      encodePackedSum(op, x.pending, n, packed, dtype);
      return op.readBack(packed, n * 2);
    }
    const values = this.f32(x);
    const op = this.closing(`store:${dtype}`);
    if (dtype === 'F32') return op.readBack(values, n * 4);
    const packed = op.temp(Math.ceil(n / 2) * 4, 'packed16');
    encodeEncode16(op, values, n, dtype, packed);
    return op.readBack(packed, n * 2);
  }

  release(x: GpuTensor): void {
    if (x.released) return;
    x.released = true;
    const sum = x.pending;
    x.pending = undefined;
    if (sum) for (const input of sum.inputs) if (this.pins.unpin(input.buffer)) this.toPool(input.buffer);
    if (x.buffer) this.free(x.buffer);
  }

  /** A buffer its tensor no longer needs: to the pool, once no pending sum reads it. */
  private free(buffer: GPUBuffer): void {
    if (this.pins.drop(buffer)) this.toPool(buffer);
  }

  private toPool(buffer: GPUBuffer): void {
    if (this.gpu.isDisposed) return;
    if (!this.open) return this.gpu.storage.release(buffer);
    // Encoded work may still read it: back to the pool after the submit.
    this.open.releaseAfterSubmit(buffer);
    this.heldBytes += buffer.size;
    if (this.heldBytes > HELD_CHUNKS * this.maxChunkElements * 4 && !this.lendsTemps) this.flush();
  }

  /**
   * Any element-wise kernel of src/core/kernels (DELTA, AIM_SCALE, …) as the GPU kernel of the same
   * name: inputs windowed with the output, sides bound whole, `out` the result; the uniforms besides
   * `n` come from the description's windowUniforms (kernels.ts).
   */
  async elementwise<P, I extends readonly string[], S extends readonly string[]>(
    kernel: ElementwiseKernel<P, I, S>,
    operands: Operands<I, S, GpuTensor>,
    params: P,
  ): Promise<GpuTensor> {
    const description = (KERNELS as Readonly<Record<string, KernelDescription | undefined>>)[kernel.name];
    if (!description?.elementsPerWorkgroup) throw new GpuError(`${kernel.name} is not an element-wise GPU kernel`);
    const inputs = operands.slice(0, kernel.inputs.length) as GpuTensor[];
    const sides = operands.slice(kernel.inputs.length) as GpuTensor[];
    const n = this.sameLength(kernel.name, inputs);
    const want = kernel.sideLengths?.(params) as readonly number[] | undefined;
    sides.forEach((side, i) => {
      if (want && live(side).length !== want[i])
        throw new GpuError(`${kernel.name}: ${kernel.sides[i]} has ${side.length} entries, not ${want[i]}`);
    });
    const windowUniforms = description.windowUniforms as ((params: P, start: number) => object) | undefined;
    // model − base of two packed tensors = 1·model + (−1)·base, both products exact: the fused sum, no decoded copies.
    if (kernel.name === 'delta' && inputs.every((x) => x.packed)) return this.pendingSum(inputs, [1, -1]);
    const [inputBuffers, sideBuffers] = [this.f32s(inputs), this.f32s(sides)];
    return this.produce(kernel.name, n, (op, out) => {
      const bind: Record<string, Operand> = { out };
      kernel.inputs.forEach((input, i) => (bind[input] = inputBuffers[i]!));
      kernel.sides.forEach(
        (side, i) => (bind[side] = { buffer: sideBuffers[i]!, size: Math.max(4, sides[i]!.length * 4) }),
      );
      // Bindings and uniforms are checked when dispatched (GpuOp.dispatch, packUniforms), not by type.
      op.elementwise(
        kernel.name as KernelName,
        {
          n,
          uniforms: windowUniforms && ((start: number) => windowUniforms(params, start)),
          bind,
        } as unknown as ElementwiseArgs<KernelName>,
      );
    });
  }

  /**
   * Σ w_t x_t in input order: over up to four tensors, some packed, a pending sum (fused.ts); otherwise in f32,
   * four inputs per dispatch, chained through an accumulator (chained.ts).
   */
  async weightedSum(xs: readonly GpuTensor[], ws: readonly number[]): Promise<GpuTensor> {
    const n = this.sameLength('weightedSum', xs);
    if (xs.length === 0) return this.alloc(n, 'weighted-sum');
    // Fused when any input is packed and none pending: TA's sum, and TIES's θ₀ + λ·merged (f32) with θ₀ packed.
    if (xs.length <= FUSED_MAX_INPUTS && xs.some((x) => x.packed) && !xs.some((x) => x.pending))
      return this.pendingSum(xs, ws);
    const values = this.f32s(xs);
    return this.produce('weighted-sum', n, (op, out) => encodeWeightedSum(op, values, ws, n, out));
  }

  async absHistogram(x: GpuTensor, pass: HistogramPass, counts: Uint32Array): Promise<void> {
    const n = live(x).length;
    const bins = 1 << pass.width;
    if (counts.length !== bins || pass.width > 11)
      throw new GpuError(`absHistogram: ${counts.length} counts for width ${pass.width}`);
    if (n === 0) return;
    const values = this.f32(x);
    const op = this.closing('abs-histogram');
    const hist = op.temp(bins * 4, 'histogram');
    op.enc.clearBuffer(hist, 0, bins * 4);
    op.elementwise('abs-histogram', {
      entry: this.histogramEntry,
      n,
      uniforms: { prefix: pass.prefix >>> 0, prefixShift: pass.prefixShift, shift: pass.shift, mask: bins - 1 },
      bind: { x: values, counts: { buffer: hist, size: bins * 4 } },
    });
    const got = new Uint32Array((await op.readBack(hist, bins * 4)).buffer);
    for (let i = 0; i < bins; i++) counts[i]! += got[i]!;
  }

  async electSign(xs: readonly GpuTensor[]): Promise<GpuTensor> {
    if (xs.length > 4) {
      // Pre-sum all but the last three in order (w = 1 is exact), then elect on four inputs.
      const head = xs.slice(0, xs.length - 3);
      const pre = await this.weightedSum(head, Array<number>(head.length).fill(1));
      try {
        return await this.electSign([pre, ...xs.slice(xs.length - 3)]);
      } finally {
        this.release(pre);
      }
    }
    const n = this.sameLength('electSign', xs);
    const values = this.f32s(xs);
    return this.produce('elect-sign', n, (op, out) =>
      op.elementwise('elect-sign', { n, constants: { K: xs.length }, bind: { ...fourInputs(values), out } }),
    );
  }

  async disjointMean(xs: readonly GpuTensor[], ws: readonly number[], sign: GpuTensor, normalize: boolean) {
    const n = this.sameLength('disjointMean', xs, live(sign).length);
    const [values, signs] = [this.f32s(xs), this.f32(sign)];
    return this.produce('disjoint-mean', n, (op, out) =>
      xs.length === 0
        ? op.enc.clearBuffer(out, 0, n * 4)
        : encodeDisjointMean(op, values, ws, signs, normalize, n, out),
    );
  }

  async dot(a: GpuTensor, b: GpuTensor): Promise<number> {
    const n = this.sameLength('dot', [a, b]);
    if (n === 0) return 0;
    const blocks = Math.ceil(n / DOT_BLOCK);
    const [av, bv] = [this.f32(a), this.f32(b)];
    const op = this.closing('dot');
    const partial = op.temp(blocks * 4, 'dot-partials');
    op.elementwise('dot', {
      n,
      bind: { a: av, b: bv, partial: { buffer: partial, bytesPerElement: 4 / DOT_BLOCK } },
    });
    const parts = new Float32Array((await op.readBack(partial, blocks * 4)).buffer, 0, blocks);
    return parts.reduce((total, part) => total + part, 0);
  }

  /** A [n, k] weight (a tensor of this backend, or raw f32/f16/bf16 bytes) in MatMulNBits' 4-bit blocks. */
  packQ4(
    source: GpuTensor | Exclude<Q4Source, { buffer: GPUBuffer }>,
    n: number,
    k: number,
    blockSize: Q4BlockSize,
    opts?: Q4PackOptions,
  ): Promise<Q4Packed> {
    const q4Source = source instanceof GpuTensor ? { buffer: this.f32(source, true), length: source.length } : source;
    this.flush(); // packQ4OnGpu encodes and uploads on its own
    return packQ4OnGpu(this.gpu, q4Source, n, k, blockSize, opts);
  }

  /** Waits until the GPU has finished all submitted work (benchmarks, profiling). */
  sync(): Promise<void> {
    this.flush();
    return this.gpu.sync();
  }

  /** op(A)·op(B) (+ C₀) on row-major 2-D handles, for the SVD merges: shaders/matmul.wgsl via src/gpu/linalg.ts. */
  async matmul(
    a: GpuTensor,
    b: GpuTensor,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
    acc?: GpuTensor,
  ): Promise<GpuTensor> {
    this.linalg ??= new GpuLinalg(this.gpu, { variant: isSoftwareAdapter(this.adapter.name) ? 'registers' : 'tiled' });
    const linalg = this.linalg;
    const [A, B, C0] = [this.f32(a), this.f32(b), acc && this.f32(acc)];
    const out = this.alloc(m * n, 'matmul');
    linalg.encodeMatmul(this.encoding('matmul'), A, B, out.buffer!, { m, k, n, transA, transB }, C0);
    if (!this.batchSubmits) this.flush();
    return out;
  }

  dispose(): Promise<void> {
    this.open = undefined; // never submitted: its buffers go with the pools
    return this.gpu.dispose();
  }
}
