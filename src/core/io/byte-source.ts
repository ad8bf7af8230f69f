/**
 * Random-access, read-only bytes: a File/Blob in the browser, a file handle in Node, or memory.
 * Readers take byte ranges from it and never need a whole file in memory.
 */
export interface ByteSource {
  /** File name shown in errors, e.g. `model-00001-of-00002.safetensors`. */
  readonly name: string;
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `offset`, or fewer when the file ends first. `into` (at least
   * `length` bytes) is a buffer the source may read into, returning a view of it; sources that
   * cannot (Blobs) return fresh bytes.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * The same read, synchronously, where the platform allows it (Node files, memory, Blobs in a
   * worker); lets onnxruntime-web pull weights while it builds a session (../../infer/on-demand-weights.ts).
   */
  readonly readSync?: (offset: number, length: number) => Uint8Array;
  close?(): Promise<void>;
}

/** FileReaderSync: synchronous Blob reads, in workers only. */
type SyncReader = { readAsArrayBuffer(blob: Blob): ArrayBuffer };
const SyncReaderCtor = (globalThis as { FileReaderSync?: new () => SyncReader }).FileReaderSync;

/** A Blob/File source: `Blob.slice` reads only the requested range. */
export class BlobByteSource implements ByteSource {
  readonly size: number;
  readonly readSync?: (offset: number, length: number) => Uint8Array;
  constructor(
    private readonly blob: Blob,
    readonly name: string,
  ) {
    this.size = blob.size;
    if (SyncReaderCtor) {
      const reader = new SyncReaderCtor();
      this.readSync = (offset, length) => {
        const end = Math.min(this.size, offset + length);
        return end <= offset ? new Uint8Array(0) : new Uint8Array(reader.readAsArrayBuffer(blob.slice(offset, end)));
      };
    }
  }
  /** Always fresh bytes: a Blob cannot read into a given buffer (`_into` is ignored). */
  async read(offset: number, length: number, _into?: Uint8Array): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    return new Uint8Array(await this.blob.slice(offset, end).arrayBuffer());
  }
}

export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name: string,
  ) {
    this.size = bytes.byteLength;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.readSync(offset, length);
  }
  readSync(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, Math.min(this.size, offset + length));
  }
}

/** A folder of model files (a Hugging Face checkpoint), read-only. */
export interface ModelFolder {
  readonly name: string;
  list(): Promise<string[]>;
  /** Opens a file, or returns undefined when it does not exist. */
  open(file: string): Promise<ByteSource | undefined>;
  /** Releases open file handles (Node). */
  close?(): Promise<void>;
}

export async function readText(src: ByteSource): Promise<string> {
  return new TextDecoder().decode(await src.read(0, src.size));
}

/** A ModelFolder over an in-memory map of files (tests, browser uploads as Blobs). */
export class MapModelFolder implements ModelFolder {
  constructor(
    readonly name: string,
    private readonly files: Map<string, Blob | Uint8Array>,
  ) {}
  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }
  async open(file: string): Promise<ByteSource | undefined> {
    const f = this.files.get(file);
    if (f === undefined) return undefined;
    return f instanceof Uint8Array ? new MemoryByteSource(f, file) : new BlobByteSource(f, file);
  }
}
