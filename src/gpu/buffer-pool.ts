/**
 * A size-bucketed pool of GPU buffers with byte counters.
 * Buckets: 256 B minimum, then 8 per power of two (≤ 12.5 % slack). A released buffer goes back
 * to its bucket's free list; callers release only after the work that used it was submitted, so
 * queue order makes reuse safe (the backend submits at the end of every operation).
 * Free buffers beyond `maxFreeBytes` are destroyed, largest first.
 */

export interface PoolStats {
  /** Bytes of live GPU buffers made by this pool (in use + free). */
  allocatedBytes: number;
  inUseBytes: number;
  freeBytes: number;
  peakAllocatedBytes: number;
  created: number;
  reused: number;
}

export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(256, p / 8);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  readonly stats: PoolStats = {
    allocatedBytes: 0,
    inUseBytes: 0,
    freeBytes: 0,
    peakAllocatedBytes: 0,
    created: 0,
    reused: 0,
  };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly kind: string,
    private readonly maxFreeBytes = 512 * 2 ** 20,
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.stats.reused++;
      this.stats.freeBytes -= size;
    } else {
      buf = this.device.createBuffer({ size, usage: this.usage, label: `${this.kind}:${label}` });
      this.stats.created++;
      this.stats.allocatedBytes += size;
      this.stats.peakAllocatedBytes = Math.max(this.stats.peakAllocatedBytes, this.stats.allocatedBytes);
    }
    buf.label = `${this.kind}:${label}`;
    this.live.add(buf);
    this.stats.inUseBytes += size;
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) throw new Error(`buffer ${buf.label} released twice or not from this pool`);
    const size = buf.size;
    this.stats.inUseBytes -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.stats.freeBytes += size;
    if (this.stats.freeBytes > this.maxFreeBytes) this.trim(this.maxFreeBytes);
  }

  /** Destroys free buffers, largest buckets first, until at most `keepBytes` are free. */
  trim(keepBytes = 0): void {
    const sizes = [...this.free.keys()].sort((a, b) => b - a);
    for (const size of sizes) {
      const list = this.free.get(size)!;
      while (list.length && this.stats.freeBytes > keepBytes) {
        list.pop()!.destroy();
        this.stats.freeBytes -= size;
        this.stats.allocatedBytes -= size;
      }
    }
  }

  /** Destroys every buffer, in use or not. */
  destroyAll(): void {
    this.trim(0);
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.stats.allocatedBytes = 0;
    this.stats.inUseBytes = 0;
  }
}
