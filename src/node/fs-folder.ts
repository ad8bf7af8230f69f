/**
 * Node adapters: a checkpoint folder read through file handles, and an output folder on disk.
 * Files are opened once and read through their handles, so a shard deleted, renamed or chmodded
 * mid-merge is still read whole (POSIX keeps an open file); one cut short fails its reads as
 * truncated, and a read the OS refuses (EIO, a closed handle) is a FileReadError naming the file.
 */
import { promises as fs, readSync } from 'node:fs';
import * as path from 'node:path';
import { LabError } from '../core/errors';
import type { ByteSource, ModelFolder } from '../core/io/byte-source';
import type { FileWriter, OutputFolder } from '../core/io/output-folder';

/** A read of a local file that the operating system refused. */
export class FileReadError extends LabError {
  override readonly name = 'FileReadError';
  readonly code = 'unreadable';
  declare readonly file: string;
  constructor(file: string, cause: unknown) {
    super(`${file}: the file could not be read (${(cause as Error).message})`, { file }, { cause });
  }
}

export class FileByteSource implements ByteSource {
  private constructor(
    private readonly handle: fs.FileHandle,
    readonly name: string,
    readonly size: number,
  ) {}
  static async open(file: string): Promise<FileByteSource> {
    const handle = await fs.open(file, 'r');
    const { size } = await handle.stat();
    return new FileByteSource(handle, path.basename(file), size);
  }
  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const len = Math.max(0, Math.min(length, this.size - offset));
    const buf = into && into.byteLength >= len ? into.subarray(0, len) : new Uint8Array(len);
    let done = 0;
    try {
      while (done < len) {
        const { bytesRead } = await this.handle.read(buf, done, len - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw new FileReadError(this.name, e);
    }
    return done === len ? buf : buf.subarray(0, done);
  }
  readSync(offset: number, length: number): Uint8Array {
    const len = Math.max(0, Math.min(length, this.size - offset));
    const buf = new Uint8Array(len);
    let done = 0;
    try {
      while (done < len) {
        const n = readSync(this.handle.fd, buf, done, len - done, offset + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw new FileReadError(this.name, e);
    }
    return done === len ? buf : buf.subarray(0, done);
  }
  async close(): Promise<void> {
    await this.handle.close();
  }
}

export class FsModelFolder implements ModelFolder {
  private readonly open_ = new Map<string, FileByteSource>();
  readonly name: string;
  constructor(readonly dir: string) {
    this.name = path.basename(path.resolve(dir));
  }
  async list(): Promise<string[]> {
    const entries = await fs.readdir(this.dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => e.name);
  }
  async open(file: string): Promise<ByteSource | undefined> {
    const cached = this.open_.get(file);
    if (cached) return cached;
    try {
      const src = await FileByteSource.open(path.join(this.dir, file));
      this.open_.set(file, src);
      return src;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
  async close(): Promise<void> {
    await Promise.all([...this.open_.values()].map((s) => s.close()));
    this.open_.clear();
  }
}

export class FsOutputFolder implements OutputFolder {
  readonly name: string;
  constructor(readonly dir: string) {
    this.name = dir;
  }
  async create(file: string): Promise<FileWriter> {
    await fs.mkdir(this.dir, { recursive: true });
    const full = path.join(this.dir, file);
    const handle = await fs.open(full, 'w');
    let closed = false;
    return {
      async write(bytes) {
        let done = 0;
        while (done < bytes.byteLength) done += (await handle.write(bytes, done, bytes.byteLength - done)).bytesWritten;
      },
      async writeAt(position, bytes) {
        let done = 0;
        while (done < bytes.byteLength)
          done += (await handle.write(bytes, done, bytes.byteLength - done, position + done)).bytesWritten;
      },
      async close() {
        if (!closed) await handle.close();
        closed = true;
      },
      async abort() {
        if (!closed) await handle.close();
        closed = true;
        await fs.rm(full, { force: true });
      },
    };
  }
  async rename(from: string, to: string): Promise<void> {
    await fs.rename(path.join(this.dir, from), path.join(this.dir, to));
  }
  async remove(file: string): Promise<void> {
    await fs.rm(path.join(this.dir, file), { force: true });
  }
  async list(): Promise<string[]> {
    try {
      return await fs.readdir(this.dir);
    } catch {
      return [];
    }
  }
}
