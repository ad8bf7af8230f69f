/**
 * Saving a merged checkpoint from the page, with its files' real names (config.json,
 * model.safetensors, …) so that it loads back into the lab and into any Hugging Face tool. With
 * the File System Access API the files stream from OPFS straight into a folder the user picks;
 * otherwise one .zip holds a folder named after the merge. The zip (stored, not compressed) streams
 * into OPFS and downloads from there, so no model is ever assembled in memory.
 */
import { downloadZip } from 'client-zip';

export function canPickSaveFolder(): boolean {
  return typeof window !== 'undefined' && 'showDirectoryPicker' in window;
}

export async function saveToPickedFolder(
  files: ReadonlyMap<string, Blob>,
  onFile?: (name: string, i: number, n: number) => void,
): Promise<string> {
  const dir = await (
    window as unknown as { showDirectoryPicker(o: { mode: 'readwrite' }): Promise<FileSystemDirectoryHandle> }
  ).showDirectoryPicker({ mode: 'readwrite' });
  let i = 0;
  for (const [name, blob] of files) {
    onFile?.(name, i++, files.size);
    const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
    await blob.stream().pipeTo(w);
  }
  return dir.name;
}

/** OPFS folder where zips are assembled before they download (the last one is kept until the next, or a reload). */
const ZIP_FOLDER = 'merge-lab-downloads';

/** Removes the zip an earlier page left in OPFS (the page clears it on start: the download has long finished). */
export async function clearZips(): Promise<void> {
  const root = await navigator.storage?.getDirectory?.().catch(() => undefined);
  await root?.removeEntry(ZIP_FOLDER, { recursive: true }).catch(() => undefined);
}

/** A zip of `files` under the folder `folder/`, as a disk-backed Blob where OPFS is available. */
export async function zipFolder(files: ReadonlyMap<string, Blob>, folder: string): Promise<Blob> {
  const entries = [...files].map(([name, blob]) => ({
    name: `${folder}/${name}`,
    input: blob,
    size: blob.size,
    lastModified: new Date(),
  }));
  const zip = downloadZip(entries);
  const root = await navigator.storage?.getDirectory?.().catch(() => undefined);
  if (!root || !zip.body) return zip.blob();
  await root.removeEntry(ZIP_FOLDER, { recursive: true }).catch(() => undefined);
  const dir = await root.getDirectoryHandle(ZIP_FOLDER, { create: true });
  const handle = await dir.getFileHandle(`${folder}.zip`, { create: true });
  await zip.body.pipeTo(await handle.createWritable());
  return handle.getFile();
}

/** Downloads a merge as `<folder>.zip`: unzipped, a folder of its files under their own names. */
export async function downloadZipped(files: ReadonlyMap<string, Blob>, folder: string): Promise<void> {
  const blob = await zipFolder(files, folder);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `${folder}.zip`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
