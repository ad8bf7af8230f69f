/**
 * Where a merge writes: a folder in Node, a directory handle or OPFS in the browser.
 * Files are written under temporary names and renamed last (see safetensors-writer).
 */
export interface FileWriter {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Abandons the file: closes it and removes what was written. */
  abort(): Promise<void>;
}

export interface OutputFolder {
  readonly name: string;
  create(file: string): Promise<FileWriter>;
  rename(from: string, to: string): Promise<void>;
  remove(file: string): Promise<void>;
  list(): Promise<string[]>;
}

/** An in-memory output folder (tests, and small merges kept in the page). */
export class MemoryOutputFolder implements OutputFolder {
  readonly files = new Map<string, Uint8Array>();
  constructor(readonly name = 'memory') {}
  async create(file: string): Promise<FileWriter> {
    const parts: Uint8Array[] = [];
    const files = this.files;
    files.set(file, new Uint8Array(0));
    return {
      async write(bytes) {
        parts.push(bytes.slice());
      },
      async close() {
        const total = parts.reduce((n, p) => n + p.byteLength, 0);
        const out = new Uint8Array(total);
        let o = 0;
        for (const p of parts) {
          out.set(p, o);
          o += p.byteLength;
        }
        files.set(file, out);
      },
      async abort() {
        files.delete(file);
      },
    };
  }
  async rename(from: string, to: string): Promise<void> {
    const f = this.files.get(from);
    if (!f) throw new Error(`${this.name}: no file ${from}`);
    this.files.delete(from);
    this.files.set(to, f);
  }
  async remove(file: string): Promise<void> {
    this.files.delete(file);
  }
  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }
}
