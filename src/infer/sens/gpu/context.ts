/**
 * The WebGPU side of the sensitivity pass: one context on the shared device (pipeline cache,
 * buffer pools and error checks of src/gpu/context.ts), the tiled matmul of src/gpu/linalg.ts for
 * every linear product, and the results area where kernels leave their partial sums, probed
 * gradients and loss rows until a single readback at the end of a sample.
 */
import { GpuContext, type GpuContextOptions } from '../../../gpu/context';
import { type AdapterReport, acquireGpuDevice, isSoftwareAdapter } from '../../../gpu/device';
import { GpuLinalg, type MatmulVariant } from '../../../gpu/linalg';
import type { BufferRange, GpuOp } from '../../../gpu/op';

/** A buffer bound whole: `size` bytes (a multiple of 4, at least 16). */
export interface Buf extends BufferRange {
  readonly buffer: GPUBuffer;
  readonly size: number;
}

export class SensGpu {
  private inFlight: Promise<void> = Promise.resolve();

  private constructor(
    readonly ctx: GpuContext,
    readonly linalg: GpuLinalg,
    readonly adapter: AdapterReport,
  ) {}

  /** A context on the shared device of `gpu` (navigator.gpu in a page, Dawn's in Node); `opts` lower its limits (tests). */
  static async create(
    gpu: GPU | undefined,
    opts: GpuContextOptions & { variant?: MatmulVariant } = {},
  ): Promise<SensGpu> {
    const dev = await acquireGpuDevice(gpu);
    // The device's limits, not the adapter's: an adapter may offer a finer binding-offset
    // alignment than the device, which was not asked for it, enforces.
    const ctx = await GpuContext.create(dev.device, dev.device.limits, opts);
    const variant = opts.variant ?? (isSoftwareAdapter(dev.adapter.name) ? 'registers' : 'tiled');
    return new SensGpu(ctx, new GpuLinalg(ctx, { variant }), dev.adapter);
  }

  /** Kernels without workgroup memory or barriers (CPU adapters), or tiled ones (real GPUs). */
  get registers(): boolean {
    return this.linalg.variant === 'registers';
  }

  get name(): string {
    return `webgpu (${this.adapter.name})`;
  }

  /** The largest range one binding may hold. */
  get maxBindingBytes(): number {
    return this.ctx.maxBindingBytes;
  }

  /**
   * Submits `op`, then waits until the op before it has finished: one op runs while the next is
   * prepared (weights read and uploaded), and uploads never pile up ahead of the GPU.
   */
  async submit(op: GpuOp): Promise<void> {
    void op.submit();
    const previous = this.inFlight;
    this.inFlight = this.ctx.device.queue.onSubmittedWorkDone();
    await previous;
    this.ctx.check();
  }

  /** A pooled storage buffer of `elements` 4-byte values (contents undefined). */
  alloc(elements: number, label: string): Buf {
    const size = Math.max(16, Math.ceil(elements / 4) * 16);
    return { buffer: this.ctx.storage.acquire(size, label), size };
  }

  upload(data: Float32Array | Uint32Array, label: string): Buf {
    const b = this.alloc(data.length, label);
    if (data.length) this.ctx.upload(b.buffer, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return b;
  }

  /** `data` in a scratch buffer of `op`, back to the pool once `op` is submitted. */
  uploadTemp(op: GpuOp, data: Float32Array | Uint32Array, label: string): Buf {
    const size = Math.max(16, Math.ceil(data.length / 4) * 16);
    const buffer = op.temp(size, label);
    if (data.length) this.ctx.upload(buffer, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return { buffer, size };
  }

  /** A scratch buffer of `elements` values in `op` (contents undefined). */
  temp(op: GpuOp, elements: number, label: string): Buf {
    const size = Math.max(16, Math.ceil(elements / 4) * 16);
    return { buffer: op.temp(size, label), size };
  }

  /** Back to the pool: only after the work that used them was submitted (queue order). */
  release(...bufs: readonly (Buf | undefined)[]): void {
    if (this.ctx.isDisposed) return;
    for (const b of bufs) if (b) this.ctx.storage.release(b.buffer);
  }

  dispose(): Promise<void> {
    return this.ctx.dispose();
  }
}

/** Where a kernel writes `count` floats of results: a segment buffer and the first index in it. */
export interface Slot {
  readonly buf: Buf;
  readonly segment: number;
  readonly index: number;
}

const SEGMENT = 1 << 18;

/** The results area of one sample: segments of floats, handed out in order, read back once. */
export class Results {
  private readonly segments: { buf: Buf; used: number; capacity: number }[] = [];

  constructor(private readonly gpu: SensGpu) {}

  take(count: number): Slot {
    let seg = this.segments.at(-1);
    if (!seg || seg.used + count > seg.capacity) {
      const capacity = Math.max(SEGMENT, count);
      seg = { buf: this.gpu.alloc(capacity, 'sens:results'), used: 0, capacity };
      this.segments.push(seg);
    }
    const slot = { buf: seg.buf, segment: this.segments.length - 1, index: seg.used };
    seg.used += count;
    return slot;
  }

  /** Releases the segments unread (a failed or cancelled sample). */
  discard(): void {
    this.gpu.release(...this.segments.map((s) => s.buf));
    this.segments.length = 0;
  }

  /** Every segment's values (waits for all submitted work); the buffers go back to the pool. */
  async read(): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const seg of this.segments) {
      const bytes = await this.gpu.ctx.begin('sens:readback').readBack(seg.buf.buffer, Math.max(4, seg.used * 4));
      out.push(new Float32Array(bytes.buffer, bytes.byteOffset, seg.used));
    }
    this.gpu.release(...this.segments.map((s) => s.buf));
    this.segments.length = 0;
    return out;
  }
}
