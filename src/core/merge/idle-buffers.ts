/**
 * Idle buffers kept for reuse, by byte length: a request takes the smallest that holds it, if that
 * is at most `slack` times its size (1: exactly its size); at most `maxBytes` wait idle, the rest
 * are left to the garbage collector. The merge's read buffers use it, and the backends' spare
 * output buffers (slack 1: a chunk's store fills a buffer of exactly its length).
 */
export class IdleBuffers<B extends ArrayBufferLike> {
  private readonly idle = new Map<number, B[]>();
  private held = 0;

  constructor(private readonly maxBytes: number) {}

  /** An idle buffer of at least `bytes` and at most `slack` × `bytes` bytes, if any. */
  take(bytes: number, slack: number): B | undefined {
    let best: number | undefined;
    for (const [size, list] of this.idle)
      if (list.length && size >= bytes && size <= slack * bytes && (best ?? Infinity) > size) best = size;
    if (best === undefined) return undefined;
    const buffer = this.idle.get(best)!.pop()!;
    this.held -= buffer.byteLength;
    return buffer;
  }

  /** A buffer nothing reads any more (not kept when over the cap). */
  give(buffer: B): void {
    if (this.held + buffer.byteLength > this.maxBytes) return;
    let list = this.idle.get(buffer.byteLength);
    if (!list) this.idle.set(buffer.byteLength, (list = []));
    list.push(buffer);
    this.held += buffer.byteLength;
  }

  clear(): void {
    this.idle.clear();
    this.held = 0;
  }

  /** Bytes held idle. */
  get bytes(): number {
    return this.held;
  }
}
