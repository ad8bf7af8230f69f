/**
 * Output buffers a backend fills again: `store` returns a fresh buffer per chunk, the merge writes
 * it and hands it back (`TensorBackend.reuseOutput`), and the next chunk of the same byte length
 * is stored into it instead of a new allocation the garbage collector would later have to free.
 * Buffers are matched by exact length (a tensor's chunks, and the same tensor in every layer).
 */
export class SpareBuffers {
  private readonly idle = new Map<number, ArrayBuffer[]>();
  private held = 0;

  /** `maxBytes`: buffers handed back beyond this are left to the garbage collector. */
  constructor(private readonly maxBytes: number) {}

  give(buffer: ArrayBuffer): void {
    if (this.held + buffer.byteLength > this.maxBytes) return;
    let list = this.idle.get(buffer.byteLength);
    if (!list) this.idle.set(buffer.byteLength, (list = []));
    list.push(buffer);
    this.held += buffer.byteLength;
  }

  /** A spare buffer of exactly `bytes` bytes, if one is idle. */
  take(bytes: number): ArrayBuffer | undefined {
    const buffer = this.idle.get(bytes)?.pop();
    if (buffer) this.held -= buffer.byteLength;
    return buffer;
  }
}
