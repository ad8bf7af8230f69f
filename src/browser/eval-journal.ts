/**
 * The evaluation journal: each finished response of the running evaluation is written to the
 * origin-private file system (OPFS) as it arrives, beside the settings that produced it, so that a
 * page reloaded or closed mid-evaluation loses no finished work. On the next start the lab offers
 * the interrupted evaluation with those responses, and resuming it runs only the missing problems.
 * One evaluation is journaled at a time, in the folder `merge-lab-eval-journal/`: `settings.json`,
 * then one `r-<n>.json` per response (each file is committed whole by its writable's close(), so a
 * reload mid-write loses at most that response).
 */
import type { ResponseRecord } from '../core/eval/metrics';

export const JOURNAL_FOLDER = 'merge-lab-eval-journal';
const SETTINGS_FILE = 'settings.json';
const RECORD_FILE = /^r-(\d+)\.json$/;

/** What an evaluation ran with: enough to run its missing problems the same way. */
export interface JournaledSettings {
  /** The models, in their order, each with the fingerprint of its files (names and sizes). */
  readonly models: readonly { readonly name: string; readonly fingerprint: string }[];
  readonly setId: string;
  readonly setText: string;
  readonly limit: number;
  readonly maxNewTokens: number;
  readonly batch: number;
  readonly ep: string;
  readonly weights: string;
  readonly blockSize: number;
  readonly force: boolean;
  readonly reference: string | undefined;
  /** Responses the whole evaluation gives (problems × models). */
  readonly total: number;
}

export interface JournaledEval {
  readonly settings: JournaledSettings;
  /** Finished responses per model, in arrival order. */
  readonly records: Readonly<Record<string, readonly ResponseRecord[]>>;
}

type IterableDir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };

/** The fingerprint of a model's files: their names and sizes (a model replaced under its name differs). */
export function filesFingerprint(files: ReadonlyMap<string, Blob>): string {
  return [...files]
    .map(([name, blob]) => `${name}:${blob.size}`)
    .sort()
    .join(',');
}

async function root(): Promise<FileSystemDirectoryHandle | undefined> {
  return typeof navigator !== 'undefined' && navigator.storage?.getDirectory
    ? navigator.storage.getDirectory().catch(() => undefined)
    : undefined;
}

async function writeJson(dir: FileSystemDirectoryHandle, file: string, value: unknown): Promise<void> {
  const w = await (await dir.getFileHandle(file, { create: true })).createWritable();
  await w.write(JSON.stringify(value));
  await w.close();
}

export class EvalJournal {
  private constructor(
    private readonly dir: FileSystemDirectoryHandle,
    private next: number,
  ) {}

  /** A new journal for an evaluation starting now (the previous one is dropped); none without OPFS. */
  static async start(settings: JournaledSettings): Promise<EvalJournal | undefined> {
    const r = await root();
    if (!r) return undefined;
    await r.removeEntry(JOURNAL_FOLDER, { recursive: true }).catch(() => undefined);
    const dir = await r.getDirectoryHandle(JOURNAL_FOLDER, { create: true });
    await writeJson(dir, SETTINGS_FILE, settings);
    return new EvalJournal(dir, 0);
  }

  /** The journal left behind, to go on writing it (a resumed evaluation). */
  static async reopen(): Promise<EvalJournal | undefined> {
    const dir = await (await root())?.getDirectoryHandle(JOURNAL_FOLDER).catch(() => undefined);
    if (!dir) return undefined;
    let next = 0;
    for await (const [name] of (dir as IterableDir).entries()) {
      const m = RECORD_FILE.exec(name);
      if (m) next = Math.max(next, Number(m[1]) + 1);
    }
    return new EvalJournal(dir, next);
  }

  /** The evaluation the journal holds, if any (a journal without readable settings counts as none). */
  static async read(): Promise<JournaledEval | undefined> {
    const dir = await (await root())?.getDirectoryHandle(JOURNAL_FOLDER).catch(() => undefined);
    if (!dir) return undefined;
    let settings: JournaledSettings | undefined;
    const found: { n: number; model: string; record: ResponseRecord }[] = [];
    for await (const [name, handle] of (dir as IterableDir).entries()) {
      if (handle.kind !== 'file') continue;
      const m = RECORD_FILE.exec(name);
      if (name !== SETTINGS_FILE && !m) continue; // a write cut off mid-way (the browser's swap file)
      try {
        const value: unknown = JSON.parse(await (await (handle as FileSystemFileHandle).getFile()).text());
        if (!m) settings = value as JournaledSettings;
        else found.push({ n: Number(m[1]), ...(value as { model: string; record: ResponseRecord }) });
      } catch {
        // an unreadable file is a response lost, not a reason to lose the others
      }
    }
    if (!settings || !Array.isArray(settings.models)) return undefined;
    const records: Record<string, ResponseRecord[]> = {};
    for (const { model, record } of found.sort((a, b) => a.n - b.n))
      if (typeof model === 'string' && typeof record?.problemId === 'string') (records[model] ??= []).push(record);
    return { settings, records };
  }

  /** Forgets the journal (the evaluation finished, was cancelled, or the user discarded it). */
  static async clear(): Promise<void> {
    await (await root())?.removeEntry(JOURNAL_FOLDER, { recursive: true }).catch(() => undefined);
  }

  /** Writes one finished response; resolves once it is on disk. */
  async add(model: string, record: ResponseRecord): Promise<void> {
    await writeJson(this.dir, `r-${this.next++}.json`, { model, record });
  }
}
