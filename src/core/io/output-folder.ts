/**
 * Where a merge writes: a folder in Node, a directory handle or OPFS in the browser.
 * Files are written under temporary names and renamed last (see safetensors-writer).
 */
export interface FileWriter {
  /** Appends at the file's current position. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Writes at byte `position` of the file (past its end: the gap reads as zeros). Nothing is
   * appended with write() after a writeAt(): where it would go differs between folders.
   */
  writeAt(position: number, bytes: Uint8Array): Promise<void>;
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
    // Copies of what was written and where; a later write over the same bytes wins, as in a file.
    const parts: { at: number; bytes: Uint8Array }[] = [];
    let cursor = 0;
    const files = this.files;
    files.set(file, new Uint8Array(0));
    return {
      async write(bytes) {
        parts.push({ at: cursor, bytes: bytes.slice() });
        cursor += bytes.byteLength;
      },
      async writeAt(position, bytes) {
        if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`${file}: bad position ${position}`);
        parts.push({ at: position, bytes: bytes.slice() });
      },
      async close() {
        const total = parts.reduce((n, p) => Math.max(n, p.at + p.bytes.byteLength), 0);
        const out = new Uint8Array(total);
        for (const p of parts) out.set(p.bytes, p.at);
        parts.length = 0;
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
