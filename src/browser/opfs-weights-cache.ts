/**
 * The page's cache of prepared weights (../infer/prepared-weights.ts) in the origin-private file
 * system: `merge-lab-weights/<content key>.<format>/` (e.g. `<key>.q4-32/`), the same entry names
 * and manifest as the Node cache and `merge-lab quantize`. An entry is complete only once its
 * manifest exists: the data files are written first, the manifest last under a `.partial` name
 * and renamed at the end, so an interrupted write never looks complete (it is cleared on the next
 * visit). `OpfsModelFolder` is a read-only ModelFolder view over an OPFS directory.
 */
import { BlobByteSource, type ByteSource, type ModelFolder, readText } from '../core/io/byte-source';
import { type WeightFileData, filePieces } from '../infer/on-demand-weights';
import { MANIFEST_NAME, type WeightsManifest } from '../infer/prepared-weights';
import { DirectoryOutputFolder } from './directory-output';

export const OPFS_WEIGHTS_ROOT = 'merge-lab-weights';
const PARTIAL_MANIFEST = `${MANIFEST_NAME}.partial`;

type IterableDir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };

const isMissing = (e: unknown) =>
  e instanceof DOMException && (e.name === 'NotFoundError' || e.name === 'TypeMismatchError');

/** A ModelFolder over an OPFS (or picked) directory; files are read as disk-backed Blobs. */
export class OpfsModelFolder implements ModelFolder {
  constructor(
    readonly dir: FileSystemDirectoryHandle,
    readonly name = dir.name,
  ) {}

  async list(): Promise<string[]> {
    const out: string[] = [];
    for await (const [name, h] of (this.dir as IterableDir).entries()) if (h.kind === 'file') out.push(name);
    return out;
  }

  async open(file: string): Promise<ByteSource | undefined> {
    try {
      return new BlobByteSource(await (await this.dir.getFileHandle(file)).getFile(), file);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }
}

/** Where prepared weights are kept between loads (the OPFS cache; tests may give another). */
export interface WeightsStore {
  /** The complete entry whose manifest equals `expected`, or undefined (a stale or partial one is removed). */
  find(entry: string, expected: WeightsManifest): Promise<ModelFolder | undefined>;
  /** Writes an entry (files, then the manifest); on any failure nothing of it is left. */
  store(
    entry: string,
    files: readonly { path: string; data: WeightFileData }[],
    manifest: WeightsManifest,
    signal?: AbortSignal,
  ): Promise<void>;
}

/** Manifests compared by content (key, format, block size, files and tensors). */
const sameManifest = (a: WeightsManifest, b: WeightsManifest) => JSON.stringify(a) === JSON.stringify(b);

export class OpfsWeightsCache implements WeightsStore {
  private constructor(readonly root: FileSystemDirectoryHandle) {}

  /** The cache under OPFS's root; rejects where the page has no OPFS. */
  static async open(rootName = OPFS_WEIGHTS_ROOT): Promise<OpfsWeightsCache> {
    if (typeof navigator === 'undefined' || typeof navigator.storage?.getDirectory !== 'function')
      throw new Error('this browser has no origin-private file system');
    const opfs = await navigator.storage.getDirectory();
    return new OpfsWeightsCache(await opfs.getDirectoryHandle(rootName, { create: true }));
  }

  /** The entries present (complete or not). */
  async entries(): Promise<string[]> {
    const out: string[] = [];
    for await (const [name, h] of (this.root as IterableDir).entries()) if (h.kind === 'directory') out.push(name);
    return out.sort();
  }

  async find(entry: string, expected: WeightsManifest): Promise<ModelFolder | undefined> {
    let dir: FileSystemDirectoryHandle;
    try {
      dir = await this.root.getDirectoryHandle(entry);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    const folder = new OpfsModelFolder(dir, `${OPFS_WEIGHTS_ROOT}/${entry}`);
    const manifest = await folder.open(MANIFEST_NAME);
    let usable = false;
    if (manifest) {
      let stored: WeightsManifest | undefined;
      try {
        stored = JSON.parse(await readText(manifest)) as WeightsManifest;
      } catch {
        stored = undefined;
      }
      usable = !!stored && sameManifest(stored, expected) && (await filesComplete(folder, stored));
    }
    if (usable) return folder;
    await this.remove(entry); // partial (no manifest), damaged, or made by another packing layout
    return undefined;
  }

  async store(
    entry: string,
    files: readonly { path: string; data: WeightFileData }[],
    manifest: WeightsManifest,
    signal?: AbortSignal,
  ): Promise<void> {
    const bytes = files.reduce((a, f) => a + f.data.byteLength, 0);
    await this.ensureQuota(bytes);
    await this.remove(entry);
    try {
      const out = new DirectoryOutputFolder(await this.root.getDirectoryHandle(entry, { create: true }), entry);
      for (const f of files) await writeFile(out, f.path, f.data, signal);
      await writeFile(out, PARTIAL_MANIFEST, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
      await out.rename(PARTIAL_MANIFEST, MANIFEST_NAME); // the entry is complete from here on
    } catch (e) {
      await this.remove(entry);
      throw e;
    }
  }

  async remove(entry: string): Promise<void> {
    await this.root.removeEntry(entry, { recursive: true }).catch(() => undefined);
  }

  /** Refuses early when the origin's quota cannot hold `bytes` more (rather than failing 1 GB in). */
  private async ensureQuota(bytes: number): Promise<void> {
    const est = await navigator.storage.estimate?.().catch(() => undefined);
    if (!est?.quota) return;
    const free = est.quota - (est.usage ?? 0);
    if (free < bytes)
      throw new DOMException(
        `the origin's storage quota has ${(free / 1e6).toFixed(0)} MB free; the weights need ${(bytes / 1e6).toFixed(0)} MB`,
        'QuotaExceededError',
      );
  }
}

async function filesComplete(folder: ModelFolder, m: WeightsManifest): Promise<boolean> {
  for (const f of m.files) if ((await folder.open(f.name))?.size !== f.bytes) return false;
  return true;
}

async function writeFile(
  out: DirectoryOutputFolder,
  name: string,
  data: WeightFileData,
  signal?: AbortSignal,
): Promise<void> {
  const w = await out.create(name);
  try {
    // Weights made on demand are packed and written one tensor at a time (never a whole file in memory).
    for await (const piece of filePieces(data, signal)) await w.write(piece);
    await w.close();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
