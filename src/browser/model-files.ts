/**
 * Getting model files into the page without uploading anything: the built-in demo models (same
 * origin), a folder picker (File System Access API where available), multi-file inputs and drag
 * and drop. Every path ends in a name → Blob map that src/core reads with Blob.slice.
 */

import { appBaseUrl } from './app-base';

export const DEMO_MODELS = [
  { id: 'demo-quick', label: 'System 1 (quick)', role: 'quick' },
  { id: 'demo-slow', label: 'System 2 (slow)', role: 'slow' },
  { id: 'demo-base', label: 'Base (pretrained)', role: 'base' },
] as const;

export const DEMO_SETS = [
  { id: 'arith-heldout', label: 'Demo arithmetic (held-out, levels 1–6)', file: 'data/arith-heldout.jsonl' },
] as const;

const DEMO_FILES = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'generation_config.json',
];

export interface FileGroup {
  readonly name: string;
  readonly files: Map<string, Blob>;
}

/** Fetches a demo model's files from the page's own origin. */
export async function fetchDemoModel(id: string, base = appBaseUrl()): Promise<FileGroup> {
  const files = new Map<string, Blob>();
  await Promise.all(
    DEMO_FILES.map(async (f) => {
      const res = await fetch(`${base}models/${id}/${f}`);
      if (res.ok) files.set(f, await res.blob());
      else if (f !== 'generation_config.json') throw new Error(`${id}/${f}: HTTP ${res.status}`);
    }),
  );
  return { name: id, files };
}

export async function fetchDemoText(file: string, base = appBaseUrl()): Promise<string> {
  const res = await fetch(`${base}${file}`);
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
  return res.text();
}

const MODEL_FILE = /\.(safetensors|json|txt|model)$/;

/** Groups files from a folder input (webkitRelativePath) or a flat selection into model folders. */
export function groupFiles(files: readonly File[], fallbackName = 'local model'): FileGroup[] {
  const groups = new Map<string, Map<string, Blob>>();
  for (const f of files) {
    if (!MODEL_FILE.test(f.name)) continue;
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const parts = rel.split('/');
    const dir = parts.length > 1 ? parts.slice(0, -1).join('/') : fallbackName;
    if (!groups.has(dir)) groups.set(dir, new Map());
    groups.get(dir)!.set(f.name, f);
  }
  return [...groups]
    .filter(([, m]) => [...m.keys()].some((k) => k.endsWith('.safetensors')))
    .map(([dir, m]) => ({ name: dir.split('/').pop()!, files: m }));
}

type DirHandle = FileSystemDirectoryHandle & { values(): AsyncIterable<FileSystemHandle> };

/** Files of a directory handle, recursing one level so a parent folder of several models works too. */
export async function filesFromDirectory(handle: FileSystemDirectoryHandle, depth = 1): Promise<FileGroup[]> {
  const own = new Map<string, Blob>();
  const nested: FileGroup[] = [];
  for await (const entry of (handle as DirHandle).values()) {
    if (entry.kind === 'file' && MODEL_FILE.test(entry.name))
      own.set(entry.name, await (entry as FileSystemFileHandle).getFile());
    else if (entry.kind === 'directory' && depth > 0)
      nested.push(...(await filesFromDirectory(entry as FileSystemDirectoryHandle, depth - 1)));
  }
  const mine = [...own.keys()].some((k) => k.endsWith('.safetensors')) ? [{ name: handle.name, files: own }] : [];
  return [...mine, ...nested];
}

export function hasDirectoryPicker(): boolean {
  return typeof window !== 'undefined' && 'showDirectoryPicker' in window;
}

/** Dropped items: directory handles where the browser offers them, else the flat file list. */
export async function filesFromDrop(dt: DataTransfer): Promise<FileGroup[]> {
  const items = [...dt.items].filter((i) => i.kind === 'file');
  const withHandles = items.filter((i) => 'getAsFileSystemHandle' in i);
  if (withHandles.length === items.length && items.length > 0) {
    const handles = await Promise.all(
      withHandles.map((i) =>
        (i as DataTransferItem & { getAsFileSystemHandle(): Promise<FileSystemHandle | null> }).getAsFileSystemHandle(),
      ),
    );
    const groups: FileGroup[] = [];
    const loose: File[] = [];
    for (const h of handles) {
      if (!h) continue;
      if (h.kind === 'directory') groups.push(...(await filesFromDirectory(h as FileSystemDirectoryHandle)));
      else loose.push(await (h as FileSystemFileHandle).getFile());
    }
    return [...groups, ...groupFiles(loose)];
  }
  return groupFiles([...dt.files]);
}
