/**
 * Read buffers a merge reads into again: a source that allocates a fresh buffer per read (a Node
 * file) fills one, the backend copies it on load (WebGPU's upload, the reference's decode), and the
 * next read of a size it holds goes into it instead of a new allocation, which the garbage
 * collector would later have to free. Only buffers a read of this merge made are taken back (never
 * a view of a source's own memory), and at most `maxIdleBytes` wait idle.
 */
import { IdleBuffers } from './idle-buffers';

const MIN_BYTES = 64 * 1024;

export class ReadBuffers {
  private readonly idle: IdleBuffers<ArrayBuffer>;
  /** Buffers our reads filled whole, which may come back. */
  private readonly ours = new WeakSet<ArrayBufferLike>();
  /** Whether the sources read into a buffer offered (Blobs do not); known after the first offer. */
  private readsInto: boolean | undefined;

  constructor(maxIdleBytes = 64 * 2 ** 20) {
    this.idle = new IdleBuffers(maxIdleBytes);
  }

  /** An idle buffer for a read of `bytes` (a view of exactly that length, on a buffer up to 1.5× larger), if any. */
  take(bytes: number): Uint8Array | undefined {
    if (bytes < MIN_BYTES || this.readsInto === false) return undefined;
    const buffer = this.idle.take(bytes, 1.5);
    return buffer && new Uint8Array(buffer, 0, bytes);
  }

  /** What a read returned (`into`: the buffer it was offered): bytes in a buffer of their own may come back. */
  readDone(bytes: Uint8Array, into: Uint8Array | undefined): void {
    if (into) {
      this.readsInto = bytes.buffer === into.buffer;
      if (!this.readsInto) this.idle.clear();
    }
    const own =
      bytes.buffer === into?.buffer || (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength);
    if (own && bytes.byteLength >= MIN_BYTES) this.ours.add(bytes.buffer);
  }

  /** A buffer nothing reads any more; kept for a later read if one of ours. */
  recycle(buffer: ArrayBufferLike): void {
    if (this.ours.delete(buffer) && this.readsInto !== false) this.idle.give(buffer as ArrayBuffer);
  }
}
