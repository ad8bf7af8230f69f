/**
 * Read buffers a merge reads into again: a source that allocates a fresh buffer per read (a Node
 * file) fills one, the backend copies it on load (WebGPU's upload, the reference's decode), and the
 * next read of a size it holds goes into it instead of a new allocation, which the garbage
 * collector would later have to free. Only buffers a read of this merge made are taken back (never
 * a view of a source's own memory), and at most `maxIdleBytes` wait idle.
 */
const MIN_BYTES = 64 * 1024;

export class ReadBuffers {
  /** Idle buffers by byte length. */
  private readonly idle = new Map<number, ArrayBuffer[]>();
  /** Buffers our reads filled whole, which may come back. */
  private readonly ours = new WeakSet<ArrayBufferLike>();
  private held = 0;
  /** Whether the sources read into a buffer offered (Blobs do not); known after the first offer. */
  private readsInto: boolean | undefined;

  constructor(private readonly maxIdleBytes = 64 * 2 ** 20) {}

  /** An idle buffer for a read of `bytes` (a view of exactly that length, on a buffer up to 1.5× larger), if any. */
  take(bytes: number): Uint8Array | undefined {
    if (bytes < MIN_BYTES || this.readsInto === false) return undefined;
    let best: number | undefined;
    for (const [size, list] of this.idle)
      if (list.length && size >= bytes && size <= 1.5 * bytes && (best ?? Infinity) > size) best = size;
    if (best === undefined) return undefined;
    const buffer = this.idle.get(best)!.pop()!;
    this.held -= buffer.byteLength;
    return new Uint8Array(buffer, 0, bytes);
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
    if (!this.ours.delete(buffer) || this.readsInto === false) return;
    if (this.held + buffer.byteLength > this.maxIdleBytes) return;
    let list = this.idle.get(buffer.byteLength);
    if (!list) this.idle.set(buffer.byteLength, (list = []));
    list.push(buffer as ArrayBuffer);
    this.held += buffer.byteLength;
  }
}
