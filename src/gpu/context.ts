/**
 * The GPU plumbing every kernel call goes through, shared by the TensorBackend (backend.ts) and the
 * SVD matmul (linalg.ts): one device, its buffer pools, the pipeline cache, the limits work is
 * planned with, and the error state. Device loss, and validation or out-of-memory errors caught
 * around a submit or raised by the device, become GpuErrors thrown by the next operation.
 * Work is encoded and submitted through GpuOp (op.ts), one per operation.
 */
import { IdleBuffers } from '../core/merge/idle-buffers';
import { BufferPool, type PoolStats } from './buffer-pool';
import { GpuDeviceLostError, GpuError } from './device';
import { GpuOp, type OpContext } from './op';
import { PipelineCache } from './pipelines';
import { loadShaders } from './shaders';
import { StagingUploads } from './staging';
import { BufferUsage } from './usage';

/** How long a wait that failed looks for a device loss behind it before reporting its own error. */
const LOSS_GRACE_MS = 200;

/** The device limits work is planned with (the adapter's, or GPUDevice.limits). */
export interface ContextLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly minStorageBufferOffsetAlignment: number;
}

export interface GpuContextOptions {
  /** Lowers the storage-binding limit work is planned with (tests use it to exercise windowing). */
  maxBindingBytes?: number;
  /** Lowers the workgroups-per-dimension limit (tests use it to exercise 2-D folding). */
  maxWorkgroupsPerDimension?: number;
  /** Free storage-pool bytes kept for reuse (default 96 MiB: TIES's peak RSS, see backend-options.ts; 64 MiB cost ~15% CPU). */
  maxPoolFreeBytes?: number;
}

export interface GpuCounters {
  submits: number;
  dispatches: number;
  /** Bytes written to the GPU / read back from it. */
  uploadBytes: number;
  readbackBytes: number;
}

export interface GpuPoolStats {
  storage: PoolStats;
  readback: PoolStats;
  uniform: PoolStats;
  pipelinesCompiled: number;
}

export class GpuContext implements OpContext {
  readonly storage: BufferPool;
  readonly readback: BufferPool;
  readonly spareOutputs = new IdleBuffers<ArrayBuffer>(16 * 2 ** 20);
  /** Staging buffers input chunks are read straight into (see staging.ts); 48 MiB, not 64: TIES peak 568 MB, not 580. */
  readonly staging: StagingUploads;
  readonly uniforms: BufferPool;
  readonly pipelines: PipelineCache;
  readonly maxBindingBytes: number;
  readonly maxWorkgroupsPerDimension: number;
  readonly offsetAlignment: number;
  readonly counters: GpuCounters = { submits: 0, dispatches: 0, uploadBytes: 0, readbackBytes: 0 };
  private failure: Error | undefined;
  private lost: GpuDeviceLostError | undefined;
  /** Settles with the loss once the device is lost (never otherwise). */
  private readonly lostSoon: Promise<GpuDeviceLostError>;
  /** Rejecters of the waits in progress (whileAlive), failed at once when the device is lost. */
  private readonly waits = new Set<(e: Error) => void>();
  private disposed = false;

  private constructor(
    readonly device: GPUDevice,
    pipelines: PipelineCache,
    limits: ContextLimits,
    opts: GpuContextOptions,
  ) {
    this.pipelines = pipelines;
    this.maxBindingBytes = Math.min(
      opts.maxBindingBytes ?? Infinity,
      limits.maxStorageBufferBindingSize,
      limits.maxBufferSize,
    );
    this.maxWorkgroupsPerDimension = Math.min(
      opts.maxWorkgroupsPerDimension ?? Infinity,
      limits.maxComputeWorkgroupsPerDimension,
    );
    this.offsetAlignment = limits.minStorageBufferOffsetAlignment;
    const free = opts.maxPoolFreeBytes ?? 96 * 2 ** 20;
    this.storage = new BufferPool(
      device,
      BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
      'tensor',
      free,
    );
    this.readback = new BufferPool(device, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback', free / 4);
    this.uniforms = new BufferPool(device, BufferUsage.UNIFORM | BufferUsage.COPY_DST, 'uniform', 2 ** 20);
    this.staging = new StagingUploads(device, 48 * 2 ** 20);
    this.lostSoon = device.lost.then((info) => {
      const lost = (this.lost = new GpuDeviceLostError(info.reason, info.message));
      for (const cutShort of this.waits) cutShort(lost);
      return lost;
    });
    device.addEventListener?.('uncapturederror', (ev) =>
      this.fail(`WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`),
    );
  }

  /** A context on `device`, planning with `limits` (default: the device's own). */
  static async create(
    device: GPUDevice,
    limits: ContextLimits = device.limits,
    opts: GpuContextOptions = {},
  ): Promise<GpuContext> {
    return new GpuContext(device, new PipelineCache(device, await loadShaders()), limits, opts);
  }

  /** Throws the device loss or the first GPU error seen so far, if any. */
  check(): void {
    if (this.lost) throw this.lost;
    if (this.failure) throw this.failure;
    if (this.disposed) throw new GpuError('the WebGPU backend was disposed');
  }

  /**
   * `wait` (a mapAsync, a queue drain), cut short by a device loss: a lost device fails the wait with
   * its GpuDeviceLostError instead of leaving it pending forever. A wait that fails as the device
   * goes (Dawn rejects mapAsync before `device.lost` settles) reports the loss too.
   */
  async whileAlive<T>(wait: Promise<T>): Promise<T> {
    if (this.lost) throw this.lost;
    let cutShort: ((e: Error) => void) | undefined;
    try {
      return await new Promise<T>((resolve, reject) => {
        cutShort = reject;
        this.waits.add(reject);
        wait.then(resolve, reject);
      });
    } catch (e) {
      if (this.lost) throw this.lost;
      const loss = await Promise.race([this.lostSoon, new Promise<undefined>((r) => setTimeout(r, LOSS_GRACE_MS))]);
      throw loss ?? e;
    } finally {
      this.waits.delete(cutShort!);
    }
  }

  /** Records a GPU error for the next check (the first one wins). */
  fail(message: string): void {
    this.failure ??= new GpuError(message);
  }

  /** Starts one operation: its dispatches and copies go into one command encoder, submitted once. */
  begin(label: string): GpuOp {
    this.check();
    return new GpuOp(this, label);
  }

  /**
   * Encodes into `op()` the GPU's copy of the staging buffer `bytes` were read into (staging.ts) to
   * `buffer`; the staging buffer is mapped again once submitted. False when they were not read into one.
   */
  uploadStaged(buffer: GPUBuffer, bytes: Uint8Array, op: () => GpuOp): boolean {
    const size = bytes.byteLength; // read before the unmap detaches the bytes
    const staging = this.staging.claim(bytes);
    if (!staging) return false;
    const into = op();
    into.enc.copyBufferToBuffer(staging, 0, buffer, 0, Math.ceil(size / 4) * 4);
    into.afterSubmit(() => this.staging.remap(staging, (wait) => this.whileAlive(wait)));
    this.counters.uploadBytes += size;
    return true;
  }

  /**
   * Writes `bytes` at `offset` in `buffer` (queue order: before any later submit). writeBuffer takes
   * whole 4-byte words: an odd tail (an odd count of 16-bit values) goes as one zero-padded word.
   * Bytes read into a staging buffer are copied by the GPU instead, in `op()` (uploadStaged).
   */
  upload(buffer: GPUBuffer, bytes: Uint8Array, offset = 0, op?: () => GpuOp): void {
    if (op && offset === 0 && this.uploadStaged(buffer, bytes, op)) return;
    const aligned = bytes.byteLength & ~3;
    if (aligned) this.device.queue.writeBuffer(buffer, offset, bytes.buffer, bytes.byteOffset, aligned);
    if (aligned < bytes.byteLength) {
      const tail = new Uint8Array(4);
      tail.set(bytes.subarray(aligned));
      this.device.queue.writeBuffer(buffer, offset + aligned, tail.buffer, 0, 4);
    }
    this.counters.uploadBytes += bytes.byteLength;
  }

  poolStats(): GpuPoolStats {
    return {
      storage: { ...this.storage.stats },
      readback: { ...this.readback.stats },
      uniform: { ...this.uniforms.stats },
      pipelinesCompiled: this.pipelines.compiled,
    };
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.check();
    await this.whileAlive(this.device.queue.onSubmittedWorkDone());
    this.check();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Waits for submitted work (unless the device is lost), then destroys every pooled buffer. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.lost) await this.whileAlive(this.device.queue.onSubmittedWorkDone()).catch(() => undefined);
    this.storage.destroyAll();
    this.readback.destroyAll();
    this.uniforms.destroyAll();
    this.staging.destroyAll();
  }
}
