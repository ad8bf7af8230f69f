/**
 * The WebGPU TensorBackend: every kernel of src/core/merge/backend.ts as a WGSL compute shader
 * (shaders/*.wgsl), each checked against its CPU twin in src/core/kernels (test/gpu).
 *
 * Handles are 1-D f32 GPU buffers (GpuTensor). Every operation encodes its dispatches into one
 * command encoder and submits it before returning, so:
 *   - compute-only operations (load, delta, masks, sums) resolve without waiting for the GPU: the
 *     caller can read the next chunk from disk while the GPU works (queue order does the rest);
 *   - only store, dot and absHistogram wait, on a mapAsync of their (small or output) result;
 *   - temporaries and released handles go back to the pool after submit, never before.
 * Tensors larger than the storage-binding limit are processed in windows (buffer sub-ranges at
 * aligned offsets), and dispatches past maxComputeWorkgroupsPerDimension fold into 2-D grids.
 * The radix-select histogram runs on the GPU; only its 2^width counts come back.
 */
import type { DType } from '../core/dtype';
import { itemSize } from '../core/dtype';
import type { HistogramPass } from '../core/kernels/abs-histogram';
import { daresKeepThreshold } from '../core/kernels/rng';
import type { TensorBackend } from '../core/merge/backend';
import { BufferPool, type PoolStats } from './buffer-pool';
import { GpuLinalg, isCpuAdapter } from './linalg';
import { type AdapterReport, type GpuDevice, GpuDeviceLostError, GpuError, acquireGpuDevice } from './device';
import { PipelineCache } from './pipelines';
import { type ShaderName, loadShaders } from './shaders';
import { BufferUsage, MapModeRead } from './usage';

/** A 1-D f32 working tensor on the GPU: `length` elements at the start of `buffer`. */
export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly length: number;
  released: boolean;
}

export interface WebGpuBackendOptions {
  /** Chunk size the executor should use (elements); default 6 Mi, capped by the buffer limit. */
  maxChunkElements?: number;
  /** Lowers the storage-binding limit the backend plans with (tests use it to exercise windowing). */
  maxBindingBytes?: number;
  /** Lowers the workgroups-per-dimension limit (tests use it to exercise 2-D folding). */
  maxWorkgroupsPerDimension?: number;
  /** Free pool bytes kept for reuse (default 192 MiB). */
  maxPoolFreeBytes?: number;
}

export interface WebGpuStats {
  storage: PoolStats;
  readback: PoolStats;
  uniform: PoolStats;
  pipelinesCompiled: number;
  submits: number;
  dispatches: number;
  /** Bytes written to the GPU / read back from it. */
  uploadBytes: number;
  readbackBytes: number;
}

interface Bind {
  buffer: GPUBuffer;
  offset?: number;
  size: number;
}

/** Window granule (elements): keeps every binding offset a multiple of 256 bytes for all kernels. */
const GRANULE = 65536;
const WG = 256;
const DEFAULT_CHUNK_ELEMENTS = 6 * 2 ** 20;
/** Elements per workgroup of the vec4 kernels (256 lanes × 16 iterations × 4). */
const PER_WG = WG * 16 * 4;
const DOT_BLOCK = 256;

const f32Bits = (x: number) => {
  const b = new Float32Array([x]);
  return new Uint32Array(b.buffer)[0]!;
};

export class WebGpuBackend implements TensorBackend<GpuTensor> {
  readonly name: string;
  readonly maxChunkElements: number;
  readonly adapter: AdapterReport;
  private readonly device: GPUDevice;
  private readonly storage: BufferPool;
  private readonly readback: BufferPool;
  private readonly uniforms: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly maxBindingBytes: number;
  /** The SVD merges' matmul (src/gpu/linalg.ts), compiled on first use. */
  private linalg: Promise<GpuLinalg> | undefined;
  private readonly maxWgPerDim: number;
  private failure: Error | undefined;
  private disposed = false;
  private counters = { submits: 0, dispatches: 0, uploadBytes: 0, readbackBytes: 0 };

  private constructor(
    private readonly gpu: GpuDevice,
    sources: Record<ShaderName, string>,
    opts: WebGpuBackendOptions,
  ) {
    this.device = gpu.device;
    this.adapter = gpu.adapter;
    this.name = `webgpu (${gpu.adapter.name})`;
    const lim = gpu.adapter.limits;
    this.maxBindingBytes = Math.min(opts.maxBindingBytes ?? Infinity, lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    if (this.maxBindingBytes < 8 * GRANULE) throw new GpuError(`storage binding limit ${this.maxBindingBytes} B is below the ${8 * GRANULE} B the backend needs`);
    this.maxWgPerDim = Math.min(opts.maxWorkgroupsPerDimension ?? Infinity, lim.maxComputeWorkgroupsPerDimension);
    // A whole chunk must fit in one buffer; windows handle the binding limit.
    const bufferElems = Math.floor(Math.min(lim.maxBufferSize, 2 ** 32) / 8);
    // 6 Mi elements keeps a Qwen2.5-0.5B MLP weight (4.36 M) in one chunk, so TIES ranks it in memory.
    this.maxChunkElements = Math.max(1, Math.min(opts.maxChunkElements ?? DEFAULT_CHUNK_ELEMENTS, bufferElems));
    const free = opts.maxPoolFreeBytes ?? 192 * 2 ** 20;
    this.storage = new BufferPool(this.device, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, 'tensor', free);
    this.readback = new BufferPool(this.device, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback', free / 4);
    this.uniforms = new BufferPool(this.device, BufferUsage.UNIFORM | BufferUsage.COPY_DST, 'uniform', 2 ** 20);
    this.pipelines = new PipelineCache(this.device, sources);
    this.device.addEventListener?.('uncapturederror', (ev) => {
      this.failure ??= new GpuError(`WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
    });
  }

  /** A backend on the shared device of `gpu` (a new device if the last one was lost). */
  static async create(gpu: GPU | undefined, opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const [dev, sources] = await Promise.all([acquireGpuDevice(gpu), loadShaders()]);
    return new WebGpuBackend(dev, sources, opts);
  }

  stats(): WebGpuStats {
    return {
      storage: { ...this.storage.stats },
      readback: { ...this.readback.stats },
      uniform: { ...this.uniforms.stats },
      pipelinesCompiled: this.pipelines.compiled,
      ...this.counters,
    };
  }

  // ---------------------------------------------------------------- plumbing

  private check(): void {
    if (this.gpu.lost) throw new GpuDeviceLostError(this.gpu.lost.reason, this.gpu.lost.message);
    if (this.failure) throw this.failure;
    if (this.disposed) throw new GpuError('the WebGPU backend was disposed');
  }

  private alloc(n: number, label: string): GpuTensor {
    return { buffer: this.storage.acquire(Math.max(4, n * 4), label), length: n, released: false };
  }

  private live(x: GpuTensor): GpuTensor {
    if (x.released) throw new GpuError('a released GPU tensor was used');
    return x;
  }

  /** [start, count] windows of at most the binding limit for `bytesPerElem`-byte elements. */
  private windows(n: number, bytesPerElem: number): [number, number][] {
    const cap = Math.max(GRANULE, Math.floor(this.maxBindingBytes / bytesPerElem / GRANULE) * GRANULE);
    if (n <= cap) return [[0, n]];
    const out: [number, number][] = [];
    for (let s = 0; s < n; s += cap) out.push([s, Math.min(cap, n - s)]);
    return out;
  }

  private grid(workgroups: number): [number, number] {
    if (workgroups <= this.maxWgPerDim) return [workgroups, 1];
    const y = Math.ceil(workgroups / this.maxWgPerDim);
    if (y > this.maxWgPerDim) throw new GpuError(`dispatch of ${workgroups} workgroups does not fit a 2-D grid`);
    return [Math.ceil(workgroups / y), y];
  }

  /** One submitted unit of work: dispatches + copies, then temporaries back to the pool. */
  private begin(label: string) {
    this.check();
    const enc = this.device.createCommandEncoder({ label });
    const temps: GPUBuffer[] = [];
    const uniforms: GPUBuffer[] = [];
    const dispatch = (kernel: ShaderName, entry: string, constants: Record<string, number>, params: ArrayBuffer, binds: Bind[], workgroups: number) => {
      if (workgroups <= 0) return;
      const ub = this.uniforms.acquire(params.byteLength, kernel);
      this.device.queue.writeBuffer(ub, 0, params);
      uniforms.push(ub);
      const pipeline = this.pipelines.get(kernel, entry, constants);
      const bindGroup = this.device.createBindGroup({
        label: `bg:${kernel}`,
        layout: this.pipelines.layout(kernel),
        entries: [{ binding: 0, resource: { buffer: ub, size: params.byteLength } }, ...binds.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: Math.ceil(Math.max(16, b.size) / 16) * 16 } }))],
      });
      const pass = enc.beginComputePass({ label: `${label}:${kernel}` });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      const [x, y] = this.grid(workgroups);
      pass.dispatchWorkgroups(x, y);
      pass.end();
      this.counters.dispatches++;
    };
    const submit = () => {
      this.device.pushErrorScope('validation');
      this.device.pushErrorScope('out-of-memory');
      this.device.queue.submit([enc.finish()]);
      this.counters.submits++;
      const scopes = Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]).then(([oom, val]) => {
        const e = oom ?? val;
        if (e && !this.failure) this.failure = new GpuError(`WebGPU ${oom ? 'out of memory' : 'validation error'} in ${label}: ${e.message}`);
      });
      for (const b of temps) this.storage.release(b);
      for (const b of uniforms) this.uniforms.release(b);
      return scopes;
    };
    const temp = (bytes: number, name: string) => {
      const b = this.storage.acquire(Math.max(4, bytes), name);
      temps.push(b);
      return b;
    };
    return { enc, dispatch, submit, temp };
  }

  /** Copies `bytes` of `src` back to the CPU (after the work already encoded in `op`). */
  private async readBack(op: ReturnType<WebGpuBackend['begin']>, src: GPUBuffer, bytes: number): Promise<Uint8Array> {
    const size = Math.ceil(bytes / 4) * 4;
    const rb = this.readback.acquire(size, 'readback');
    op.enc.copyBufferToBuffer(src, 0, rb, 0, size);
    const scopes = op.submit();
    try {
      await rb.mapAsync(MapModeRead, 0, size);
    } catch (e) {
      this.check();
      throw new GpuError(`reading back from the GPU failed: ${(e as Error).message}`);
    }
    const out = new Uint8Array(bytes);
    out.set(new Uint8Array(rb.getMappedRange(0, size), 0, bytes));
    rb.unmap();
    this.readback.release(rb);
    this.counters.readbackBytes += size;
    await scopes;
    this.check();
    return out;
  }

  // ---------------------------------------------------------------- kernels

  async load(bytes: Uint8Array, dtype: DType): Promise<GpuTensor> {
    this.check();
    const isize = itemSize(dtype);
    const n = bytes.byteLength / isize;
    if (!Number.isInteger(n)) throw new GpuError(`${bytes.byteLength} bytes is not a whole number of ${dtype} values`);
    const out = this.alloc(n, `load:${dtype}`);
    if (n === 0) return out;
    const q = this.device.queue;
    if (dtype === 'F32') {
      q.writeBuffer(out.buffer, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.counters.uploadBytes += bytes.byteLength;
      return out;
    }
    const op = this.begin('load16');
    const words = Math.ceil(n / 2);
    const staging = op.temp(words * 4, 'staging16');
    const aligned = bytes.byteLength & ~3;
    if (aligned) q.writeBuffer(staging, 0, bytes.buffer, bytes.byteOffset, aligned);
    if (aligned < bytes.byteLength) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(aligned));
      q.writeBuffer(staging, aligned, tail);
    }
    this.counters.uploadBytes += words * 4;
    for (const [s, c] of this.windows(n, 4)) {
      op.dispatch('dtype', 'load16', { BF16: dtype === 'BF16' ? 1 : 0 }, new Uint32Array([c, 0, 0, 0]).buffer,
        [{ buffer: staging, offset: s * 2, size: Math.ceil(c / 2) * 4 }, { buffer: out.buffer, offset: s * 4, size: c * 4 }],
        Math.ceil(c / PER_WG));
    }
    void op.submit();
    return out;
  }

  async store(x: GpuTensor, dtype: DType): Promise<Uint8Array> {
    this.live(x);
    const n = x.length;
    this.check();
    if (n === 0) return new Uint8Array(0);
    const op = this.begin(`store:${dtype}`);
    if (dtype === 'F32') return this.readBack(op, x.buffer, n * 4);
    const packed = op.temp(Math.ceil(n / 2) * 4, 'packed16');
    for (const [s, c] of this.windows(n, 4)) {
      op.dispatch('dtype', 'store16', { BF16: dtype === 'BF16' ? 1 : 0 }, new Uint32Array([c, 0, 0, 0]).buffer,
        [{ buffer: x.buffer, offset: s * 4, size: c * 4 }, { buffer: packed, offset: s * 2, size: Math.ceil(c / 2) * 4 }],
        Math.ceil(c / PER_WG));
    }
    return this.readBack(op, packed, n * 2);
  }

  release(x: GpuTensor): void {
    if (x.released) return;
    x.released = true;
    if (!this.disposed) this.storage.release(x.buffer);
  }

  /** AIM post-step: θ₀ + (θ_m − θ₀)(1 − (1−ω) s_j) with j = (offset + i) mod cols (shaders/aim-scale.wgsl). */
  async aimScale(base: GpuTensor, merged: GpuTensor, scale: GpuTensor, omega: number, offset: number, cols: number): Promise<GpuTensor> {
    const n = this.live(base).length;
    if (this.live(merged).length !== n) throw new GpuError(`aimScale: lengths differ (${n} vs ${merged.length})`);
    if (this.live(scale).length !== cols) throw new GpuError(`aimScale: scale has ${scale.length} entries, weight has ${cols} columns`);
    const out = this.alloc(n, 'aim-scale');
    const op = this.begin('aim-scale');
    for (const [s, c] of this.windows(n, 4)) {
      const w = (b: GPUBuffer) => ({ buffer: b, offset: s * 4, size: c * 4 });
      const params = new ArrayBuffer(16);
      new Uint32Array(params, 0, 3).set([c, (offset + s) % cols, cols]);
      new Float32Array(params, 12, 1)[0] = 1 - omega;
      op.dispatch('aim-scale', 'main', {}, params, [w(base.buffer), w(merged.buffer), { buffer: scale.buffer, size: Math.max(4, cols * 4) }, w(out.buffer)], Math.ceil(c / PER_WG));
    }
    void op.submit();
    return out;
  }

  async delta(model: GpuTensor, base: GpuTensor): Promise<GpuTensor> {
    const n = this.live(model).length;
    if (this.live(base).length !== n) throw new GpuError(`delta: lengths differ (${n} vs ${base.length})`);
    const out = this.alloc(n, 'delta');
    const op = this.begin('delta');
    for (const [s, c] of this.windows(n, 4)) {
      const w = (b: GPUBuffer) => ({ buffer: b, offset: s * 4, size: c * 4 });
      op.dispatch('delta', 'main', {}, new Uint32Array([c, 0, 0, 0]).buffer, [w(model.buffer), w(base.buffer), w(out.buffer)], Math.ceil(c / PER_WG));
    }
    void op.submit();
    return out;
  }

  /** Σ w_t x_t in input order, four inputs per dispatch, chained through an accumulator. */
  async weightedSum(xs: readonly GpuTensor[], ws: readonly number[]): Promise<GpuTensor> {
    const n = xs[0] ? this.live(xs[0]).length : 0;
    for (const x of xs) if (this.live(x).length !== n) throw new GpuError('weightedSum: lengths differ');
    const out = this.alloc(n, 'weighted-sum');
    if (n === 0 || xs.length === 0) return out;
    const op = this.begin('weighted-sum');
    const groups = Math.ceil(xs.length / 4);
    let acc: GPUBuffer | undefined;
    for (let g = 0; g < groups; g++) {
      const part = xs.slice(g * 4, g * 4 + 4);
      const dst = g === groups - 1 ? out.buffer : op.temp(n * 4, 'partial-sum');
      const params = new ArrayBuffer(32);
      new Uint32Array(params, 0, 1)[0] = n;
      new Float32Array(params, 16, 4).set(part.map((_, i) => ws[g * 4 + i]!));
      for (const [s, c] of this.windows(n, 4)) {
        const w = (b: GPUBuffer) => ({ buffer: b, offset: s * 4, size: c * 4 });
        const p = params.slice(0);
        new Uint32Array(p, 0, 1)[0] = c;
        const ins = [0, 1, 2, 3].map((i) => w((part[i] ?? part[0]!).buffer));
        op.dispatch('weighted-sum', 'main', { K: part.length, ACC: acc ? 1 : 0 }, p, [...ins, w(acc ?? part[0]!.buffer), w(dst)], Math.ceil(c / PER_WG));
      }
      acc = dst;
    }
    void op.submit();
    return out;
  }

  async absHistogram(x: GpuTensor, pass: HistogramPass, counts: Uint32Array): Promise<void> {
    const n = this.live(x).length;
    const bins = 1 << pass.width;
    if (counts.length !== bins || pass.width > 11) throw new GpuError(`absHistogram: ${counts.length} counts for width ${pass.width}`);
    if (n === 0) return;
    const op = this.begin('abs-histogram');
    const hist = op.temp(bins * 4, 'histogram');
    op.enc.clearBuffer(hist, 0, bins * 4);
    for (const [s, c] of this.windows(n, 4)) {
      op.dispatch('abs-histogram', 'main', {}, new Uint32Array([c, pass.prefix >>> 0, pass.prefixShift, pass.shift, bins - 1, 0, 0, 0]).buffer,
        [{ buffer: x.buffer, offset: s * 4, size: c * 4 }, { buffer: hist, size: bins * 4 }], Math.ceil(c / PER_WG));
    }
    const got = new Uint32Array((await this.readBack(op, hist, bins * 4)).buffer);
    for (let i = 0; i < bins; i++) counts[i]! += got[i]!;
  }

  async magnitudeBand(x: GpuTensor, lo: number, hi: number): Promise<GpuTensor> {
    const n = this.live(x).length;
    const out = this.alloc(n, 'magnitude-band');
    if (n === 0) return out;
    const op = this.begin('magnitude-band');
    for (const [s, c] of this.windows(n, 4)) {
      const w = (b: GPUBuffer) => ({ buffer: b, offset: s * 4, size: c * 4 });
      op.dispatch('magnitude-band', 'main', {}, new Uint32Array([c, f32Bits(lo), f32Bits(hi), 0]).buffer, [w(x.buffer), w(out.buffer)], Math.ceil(c / PER_WG));
    }
    void op.submit();
    return out;
  }

  async dareMask(x: GpuTensor, density: number, seed: number, stream: number, offset: number, rescale: boolean): Promise<GpuTensor> {
    const n = this.live(x).length;
    const out = this.alloc(n, 'dare-mask');
    if (n === 0) return out;
    const op = this.begin('dare-mask');
    for (const [s, c] of this.windows(n, 4)) {
      const w = (b: GPUBuffer) => ({ buffer: b, offset: s * 4, size: c * 4 });
      const params = new ArrayBuffer(32);
      new Uint32Array(params, 0, 6).set([c, seed >>> 0, stream >>> 0, (offset + s) >>> 0, daresKeepThreshold(density), rescale ? 1 : 0]);
      new Float32Array(params, 24, 1)[0] = density;
      op.dispatch('dare-mask', 'main', {}, params, [w(x.buffer), w(out.buffer)], Math.ceil(c / PER_WG));
    }
    void op.submit();
    return out;
  }

  async electSign(xs: readonly GpuTensor[]): Promise<GpuTensor> {
    const n = xs[0] ? this.live(xs[0]).length : 0;
    if (xs.length > 4) {
      // Pre-sum all but the last three in order (w = 1 is exact), then elect on four inputs.
      const pre = await this.weightedSum(xs.slice(0, xs.length - 3), xs.slice(0, xs.length - 3).map(() => 1));
      try {
        return await this.electSign([pre, ...xs.slice(xs.length - 3)]);
      } finally {
        this.release(pre);
      }
    }
    for (const x of xs) if (this.live(x).length !== n) throw new GpuError('electSign: lengths differ');
    const out = this.alloc(n, 'elect-sign');
    if (n === 0) return out;
    const op = this.begin('elect-sign');
    for (const [s, c] of this.windows(n, 4)) {
      const w = (b: GPUBuffer) => ({ buffer: b, offset: s * 4, size: c * 4 });
      op.dispatch('elect-sign', 'main', { K: xs.length }, new Uint32Array([c, 0, 0, 0]).buffer,
        [...[0, 1, 2, 3].map((i) => w((xs[i] ?? xs[0]!).buffer)), w(out.buffer)], Math.ceil(c / PER_WG));
    }
    void op.submit();
    return out;
  }

  async disjointMean(xs: readonly GpuTensor[], ws: readonly number[], sign: GpuTensor, normalize: boolean): Promise<GpuTensor> {
    const n = this.live(sign).length;
    for (const x of xs) if (this.live(x).length !== n) throw new GpuError('disjointMean: lengths differ');
    const out = this.alloc(n, 'disjoint-mean');
    if (n === 0) return out;
    const op = this.begin('disjoint-mean');
    if (xs.length === 0) {
      op.enc.clearBuffer(out.buffer, 0, n * 4);
      void op.submit();
      return out;
    }
    const groups = Math.ceil(xs.length / 4);
    let state: GPUBuffer | undefined;
    for (let g = 0; g < groups; g++) {
      const part = xs.slice(g * 4, g * 4 + 4);
      const final = g === groups - 1;
      const dst = final ? out.buffer : op.temp(n * 8, 'disjoint-state');
      for (const [s, c] of this.windows(n, 8)) {
        const w = (b: GPUBuffer) => ({ buffer: b, offset: s * 4, size: c * 4 });
        const params = new ArrayBuffer(32);
        new Uint32Array(params, 0, 1)[0] = c;
        new Float32Array(params, 16, 4).set(part.map((_, i) => ws[g * 4 + i]!));
        const st = state ? { buffer: state, offset: s * 8, size: c * 8 } : { buffer: sign.buffer, size: 16 }; // unread when !ACC
        const dstBind = final ? w(dst) : { buffer: dst, offset: s * 8, size: c * 8 };
        op.dispatch('disjoint-mean', 'main', { K: part.length, ACC: state ? 1 : 0, FINAL: final ? 1 : 0, NORMALIZE: normalize ? 1 : 0 }, params,
          [...[0, 1, 2, 3].map((i) => w((part[i] ?? part[0]!).buffer)), w(sign.buffer), st, dstBind], Math.ceil(c / PER_WG));
      }
      state = dst;
    }
    void op.submit();
    return out;
  }

  async dot(a: GpuTensor, b: GpuTensor): Promise<number> {
    const n = this.live(a).length;
    if (this.live(b).length !== n) throw new GpuError('dot: lengths differ');
    if (n === 0) return 0;
    const blocks = Math.ceil(n / DOT_BLOCK);
    const op = this.begin('dot');
    const partial = op.temp(blocks * 4, 'dot-partials');
    for (const [s, c] of this.windows(n, 4)) {
      const w = (buf: GPUBuffer) => ({ buffer: buf, offset: s * 4, size: c * 4 });
      const nb = Math.ceil(c / DOT_BLOCK);
      op.dispatch('dot', 'main', {}, new Uint32Array([c, 0, 0, 0]).buffer,
        [w(a.buffer), w(b.buffer), { buffer: partial, offset: (s / DOT_BLOCK) * 4, size: nb * 4 }], Math.ceil(nb / WG));
    }
    const parts = new Float32Array((await this.readBack(op, partial, blocks * 4)).buffer);
    let total = 0;
    for (let i = 0; i < blocks; i++) total += parts[i]!;
    return total;
  }

  /** Waits until the GPU has finished all submitted work (benchmarks, profiling). */
  async sync(): Promise<void> {
    this.check();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** op(A)·op(B) (+ C₀) on row-major 2-D handles, for the SVD merges: shaders/matmul.wgsl via src/gpu/linalg.ts. */
  async matmul(a: GpuTensor, b: GpuTensor, m: number, k: number, n: number, transA: boolean, transB: boolean, acc?: GpuTensor): Promise<GpuTensor> {
    this.linalg ??= GpuLinalg.create(this.device, { maxBindingBytes: this.maxBindingBytes, variant: isCpuAdapter(this.adapter.name) ? 'registers' : 'tiled' });
    const linalg = await this.linalg;
    const out = this.alloc(m * n, 'matmul');
    const op = this.begin('matmul');
    const uniforms = linalg.encodeMatmul(op.enc, this.live(a).buffer, this.live(b).buffer, out.buffer, { m, k, n, transA, transB }, acc ? this.live(acc).buffer : undefined);
    void op.submit();
    for (const u of uniforms) u.destroy();
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.gpu.lost) await this.device.queue.onSubmittedWorkDone().catch(() => undefined);
    this.storage.destroyAll();
    this.readback.destroyAll();
    this.uniforms.destroyAll();
  }
}

/** Creates the WebGPU backend for this page or worker (`navigator.gpu`). */
export function createBrowserWebGpuBackend(opts?: WebGpuBackendOptions): Promise<WebGpuBackend> {
  return WebGpuBackend.create(typeof navigator !== 'undefined' && 'gpu' in navigator ? navigator.gpu : undefined, opts);
}
