/**
 * An OutputFolder over a FileSystemDirectoryHandle: the origin-private file system (OPFS) by
 * default, or a folder the user picked with showDirectoryPicker (File System Access API).
 * Files stream to disk through writable streams; nothing is assembled in one ArrayBuffer.
 */
import { LabError } from '../core/errors';
import type { FileWriter, OutputFolder } from '../core/io/output-folder';
import { asStorageFull } from './opfs-room';

/** A merge would replace a finished model in the folder it was given: refused, never overwritten. */
export class OutputExistsError extends LabError {
  override readonly name = 'OutputExistsError';
  readonly code = 'output-exists';
  constructor(folder: string) {
    super(`${folder} already holds a finished model: delete it first, or merge under another name`, { file: folder });
  }
}

type MovableHandle = FileSystemFileHandle & { move?(name: string): Promise<void> };

export class DirectoryOutputFolder implements OutputFolder {
  constructor(
    readonly dir: FileSystemDirectoryHandle,
    readonly name = dir.name,
  ) {}

  /**
   * A fresh folder under OPFS's root. A folder of that name that holds a finished model (its
   * config.json) is refused with OutputExistsError; one left by a cancelled or failed merge is cleared.
   */
  static async opfs(name: string): Promise<DirectoryOutputFolder> {
    const root = await navigator.storage.getDirectory();
    const old = await root.getDirectoryHandle(name).catch(() => undefined);
    if (old) {
      if (
        await old.getFileHandle('config.json').then(
          () => true,
          () => false,
        )
      )
        throw new OutputExistsError(name);
      await root.removeEntry(name, { recursive: true }).catch(() => undefined);
    }
    return new DirectoryOutputFolder(await root.getDirectoryHandle(name, { create: true }), name);
  }

  async create(file: string): Promise<FileWriter> {
    const handle = await this.dir.getFileHandle(file, { create: true });
    const w = await handle.createWritable();
    const dir = this.dir;
    let open = true;
    return {
      async write(bytes) {
        try {
          await w.write(bytes as Uint8Array<ArrayBuffer>);
        } catch (e) {
          throw asStorageFull(e, file);
        }
      },
      async writeAt(position, bytes) {
        try {
          await w.write({ type: 'write', position, data: bytes as Uint8Array<ArrayBuffer> });
        } catch (e) {
          throw asStorageFull(e, file);
        }
      },
      async close() {
        if (open) await w.close().catch((e: unknown) => Promise.reject(asStorageFull(e, file)));
        open = false;
      },
      async abort() {
        if (open) await w.abort().catch(() => undefined);
        open = false;
        await dir.removeEntry(file).catch(() => undefined);
      },
    };
  }

  async rename(from: string, to: string): Promise<void> {
    const h = (await this.dir.getFileHandle(from)) as MovableHandle;
    if (h.move) {
      await h.move(to);
      return;
    }
    // No FileSystemHandle.move: copy through a stream, then remove the original.
    const src = await h.getFile();
    const dst = await (await this.dir.getFileHandle(to, { create: true })).createWritable();
    await src.stream().pipeTo(dst);
    await this.dir.removeEntry(from);
  }

  async remove(file: string): Promise<void> {
    await this.dir.removeEntry(file).catch(() => undefined);
  }

  async list(): Promise<string[]> {
    const out: string[] = [];
    for await (const [name] of (
      this.dir as FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> }
    ).entries())
      out.push(name);
    return out;
  }

  /** The finished files as Blobs (File objects backed by disk, not memory). */
  async files(): Promise<Map<string, Blob>> {
    const out = new Map<string, Blob>();
    for (const name of await this.list()) out.set(name, await (await this.dir.getFileHandle(name)).getFile());
    return out;
  }
}
