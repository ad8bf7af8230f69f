/**
 * Saving a merged checkpoint from the page. With the File System Access API the files stream from
 * OPFS straight into a folder the user picks; otherwise each file downloads from its disk-backed
 * Blob. Neither path assembles a model in one ArrayBuffer.
 */
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

export function downloadFiles(files: ReadonlyMap<string, Blob>, prefix: string): void {
  for (const [name, blob] of files) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `${prefix}-${name}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}
