/**
 * The main side's read buffers for tensor workers, in memory both sides share (SharedArrayBuffer:
 * Node, and a cross-origin-isolated page): a read goes into one, the worker reads it in place and
 * hands it back once merged (FastCpuBackend.onBytesFree), and the next read reuses it. Nothing is
 * transferred or collected per read, which spared the main thread most of its garbage collection
 * (every transferred buffer counts as new external memory there). A read takes the smallest idle
 * buffer that holds it if that is at most 1.5× its size, else a new one of its size class; reads
 * under MIN_BYTES are sent as before.
 */
import { sizeClass } from '../fast/buffer-pool';
import { IdleBuffers } from '../idle-buffers';

const MIN_BYTES = 64 * 1024;

/** Whether this platform shares memory between threads. */
export const canShareMemory = (): boolean => typeof SharedArrayBuffer !== 'undefined';

export class SharedReadBuffers {
  private readonly idle: IdleBuffers<SharedArrayBuffer>;

  /** `maxIdleBytes`: idle buffers beyond this are dropped. */
  constructor(maxIdleBytes: number) {
    this.idle = new IdleBuffers(maxIdleBytes);
  }

  /** A view of exactly `bytes` bytes to read into: an idle buffer's, or a new one's; undefined for a small read. */
  take(bytes: number): Uint8Array | undefined {
    if (bytes < MIN_BYTES) return undefined;
    const buffer = this.idle.take(bytes, 1.5) ?? new SharedArrayBuffer(sizeClass(bytes));
    return new Uint8Array(buffer, 0, bytes);
  }

  /** A buffer nothing reads any more. */
  give(buffer: SharedArrayBuffer): void {
    this.idle.give(buffer);
  }

  /** Bytes held idle. */
  get idleBytes(): number {
    return this.idle.bytes;
  }
}
