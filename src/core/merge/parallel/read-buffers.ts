/**
 * The main side's spare read buffers: input buffers that tensor workers hand back once merged
 * (FastCpuBackend.onBytesFree), read into again instead of allocating (and later collecting) a
 * fresh buffer per read. A read takes the smallest spare buffer that holds it, if that is at most
 * 1.5× its size; reads under MIN_BYTES allocate as before.
 */
const MIN_BYTES = 64 * 1024;

export class ReadBuffers {
  /** Spare buffers by byte length. */
  private readonly free = new Map<number, ArrayBuffer[]>();
  private held = 0;

  /** `maxBytes`: spare buffers beyond this are dropped. */
  constructor(private readonly maxBytes: number) {}

  /** A spare buffer to read `bytes` into (a view of exactly that length), if one fits. */
  take(bytes: number): Uint8Array | undefined {
    if (bytes < MIN_BYTES) return undefined;
    let best: number | undefined;
    for (const [size, list] of this.free)
      if (list.length && size >= bytes && size <= 1.5 * bytes && (best ?? Infinity) > size) best = size;
    if (best === undefined) return undefined;
    const buffer = this.free.get(best)!.pop()!;
    this.held -= buffer.byteLength;
    return new Uint8Array(buffer, 0, bytes);
  }

  clear(): void {
    this.free.clear();
    this.held = 0;
  }

  /** A buffer nothing reads any more. */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength < MIN_BYTES || this.held + buffer.byteLength > this.maxBytes) return;
    let list = this.free.get(buffer.byteLength);
    if (!list) this.free.set(buffer.byteLength, (list = []));
    list.push(buffer);
    this.held += buffer.byteLength;
  }
}
