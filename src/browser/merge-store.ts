/**
 * The merges the lab keeps in the origin-private file system (OPFS), listed again after a reload.
 * Each merge is a folder `merge-lab-<name>` written by the merge worker; once it is complete, the
 * page writes `merge-lab-recipe.json` beside the model files: the recipe that made it, its label
 * and, for a sweep point, the swept parameter and value. Folders of cancelled or failed merges
 * (or of a tab closed mid-merge) hold no config.json: the next start removes them, unless a merge
 * in another tab holds the folder's Web Lock while it writes.
 */

/** OPFS folder of a merge named `name` (e.g. `merge-3-ties`). */
export const mergeFolder = (name: string): string => `merge-lab-${name}`;

/** The file beside a merge's model files that records how it was made. */
export const RECORD_FILE = 'merge-lab-recipe.json';

const MERGE_FOLDER = /^merge-lab-(merge-(\d+)-.+)$/;

export interface MergeRecord {
  /** The merge's name in the lab (its folder without `merge-lab-`). */
  readonly name: string;
  readonly label: string;
  /** The recipe as mergekit YAML (what the Recipe step shows and exports). */
  readonly recipe: string;
  readonly createdAt: string;
  /** A sweep point: the parameter swept and this merge's value. */
  readonly sweep?: { readonly param: string; readonly value: number };
}

export interface StoredMerge {
  readonly name: string;
  readonly folder: string;
  /** The number in `merge-<n>-…`: new merges are numbered past every stored one. */
  readonly index: number;
  /** The model files (the record left out), as disk-backed Files. */
  readonly files: Map<string, Blob>;
  /** Whether the merge finished (config.json and weights present, nothing half-written). */
  readonly complete: boolean;
  /** How it was made; undefined for a folder without a readable record. */
  readonly record: MergeRecord | undefined;
}

type IterableDir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };

async function opfsRoot(): Promise<FileSystemDirectoryHandle | undefined> {
  return typeof navigator !== 'undefined' && navigator.storage?.getDirectory
    ? navigator.storage.getDirectory().catch(() => undefined)
    : undefined;
}

function parseRecord(text: string, name: string): MergeRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<MergeRecord>;
    if (typeof r.recipe !== 'string') return undefined;
    return {
      name,
      label: typeof r.label === 'string' ? r.label : name,
      recipe: r.recipe,
      createdAt: typeof r.createdAt === 'string' ? r.createdAt : '',
      ...(r.sweep && typeof r.sweep.param === 'string' && typeof r.sweep.value === 'number'
        ? { sweep: { param: r.sweep.param, value: r.sweep.value } }
        : {}),
    };
  } catch {
    return undefined;
  }
}

async function readMerge(folder: string, name: string, index: number, dir: IterableDir): Promise<StoredMerge> {
  const files = new Map<string, Blob>();
  let record: MergeRecord | undefined;
  let partial = false;
  for await (const [file, handle] of dir.entries()) {
    if (handle.kind !== 'file') continue;
    const blob = await (handle as FileSystemFileHandle).getFile();
    if (file === RECORD_FILE) record = parseRecord(await blob.text(), name);
    else if (file.endsWith('.partial')) partial = true;
    else files.set(file, blob);
  }
  const complete = !partial && files.has('config.json') && [...files.keys()].some((f) => f.endsWith('.safetensors'));
  return { name, folder, index, files, complete, record };
}

/** Every merge folder in OPFS, oldest first (by its number); none where OPFS is unavailable. */
export async function listStoredMerges(): Promise<StoredMerge[]> {
  const root = await opfsRoot();
  if (!root) return [];
  const out: StoredMerge[] = [];
  for await (const [folder, handle] of (root as IterableDir).entries()) {
    const m = MERGE_FOLDER.exec(folder);
    if (!m || handle.kind !== 'directory') continue;
    out.push(await readMerge(folder, m[1]!, Number(m[2]), handle as IterableDir));
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Whether OPFS holds a folder for a merge of this name (finished or not). */
export async function mergeFolderExists(name: string): Promise<boolean> {
  const root = await opfsRoot();
  return (
    !!root &&
    (await root.getDirectoryHandle(mergeFolder(name)).then(
      () => true,
      () => false,
    ))
  );
}

/** Writes the record beside a finished merge's files. */
export async function writeMergeRecord(record: MergeRecord): Promise<void> {
  const root = await opfsRoot();
  if (!root) return;
  const dir = await root.getDirectoryHandle(mergeFolder(record.name));
  const w = await (await dir.getFileHandle(RECORD_FILE, { create: true })).createWritable();
  await w.write(JSON.stringify(record, null, 2));
  await w.close();
}

/** Deletes a merge's folder and everything in it. */
export async function deleteStoredMerge(name: string): Promise<void> {
  const root = await opfsRoot();
  await root?.removeEntry(mergeFolder(name), { recursive: true });
}

/** Web Locks where the browser has them: a merge holds its folder's lock while it writes. */
function locks(): LockManager | undefined {
  return typeof navigator !== 'undefined' ? navigator.locks : undefined;
}

/** Runs `work` holding the lock of a merge folder, so that another tab's start-up cleanup leaves it alone. */
export async function whileWriting<T>(folder: string, work: () => Promise<T>): Promise<T> {
  const manager = locks();
  return manager ? manager.request(folder, () => work()) : work();
}

/** Runs `remove` unless a merge holds the folder's lock; whether it ran. */
export async function removeIfUnlocked(folder: string, remove: () => Promise<void>): Promise<boolean> {
  const manager = locks();
  if (!manager) {
    await remove();
    return true;
  }
  return manager.request(folder, { ifAvailable: true }, async (lock) => {
    if (!lock) return false;
    await remove();
    return true;
  });
}
