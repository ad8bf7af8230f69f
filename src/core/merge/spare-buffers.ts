/**
 * Output buffers a backend fills again: `store` returns a fresh buffer per chunk, the merge writes
 * it and hands it back (`TensorBackend.reuseOutput`), and the next chunk of the same byte length
 * is stored into it instead of a new allocation the garbage collector would later have to free.
 * Buffers are matched by exact length (a tensor's chunks, and the same tensor in every layer).
 */
import { IdleBuffers } from './idle-buffers';

export class SpareBuffers {
  private readonly idle: IdleBuffers<ArrayBuffer>;

  /** `maxBytes`: buffers handed back beyond this are left to the garbage collector. */
  constructor(maxBytes: number) {
    this.idle = new IdleBuffers(maxBytes);
  }

  give(buffer: ArrayBuffer): void {
    this.idle.give(buffer);
  }

  /** A spare buffer of exactly `bytes` bytes, if one is idle. */
  take(bytes: number): ArrayBuffer | undefined {
    return this.idle.take(bytes, 1);
  }
}
