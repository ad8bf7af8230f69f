/**
 * Running a merge in the merge worker (progress, cancel, per-layer diagnostics, the result) and the
 * merges kept in OPFS: each new merge gets a folder no other merge holds, its recipe is written
 * beside it, and on start the stored merges come back with the recipes that made them. A merge
 * stopped by a lost GPU or a dead worker says so and what to do; nothing of it is kept, and the
 * next merge gets a new device and new workers.
 */
import {
  type MergeRecord,
  type StoredMerge,
  deleteStoredMerge,
  listStoredMerges,
  mergeFolder,
  mergeFolderExists,
  removeIfUnlocked,
  whileWriting,
  writeMergeRecord,
} from '../../browser/merge-store';
import { requestPersistentStorage } from '../../browser/opfs-room';
import { type LabWarning, describeError, isAbortError } from '../../core/errors';
import { type MergeFault, parseMergeFault } from '../../workers/merge-faults';
import type { ActivationStats } from '../../core/merge/activation-stats';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../../core/merge/diagnostics';
import type { MergeProgress, MergeSummary } from '../../core/merge/execute';
import { emitRecipe } from '../../core/recipe/parse';
import type { Recipe } from '../../core/recipe/types';
import type { MergeClient } from '../../workers/merge-client';
import type { ModelEntry, ModelsState } from './models.svelte';
import { compileForMerge } from './sens.svelte';

export interface LayerDiagnostics {
  readonly tensor: string;
  readonly diagnostics: TensorDiagnostics;
}

export type MergeStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'failed';

/** Where merges run: WebGPU when there is an adapter (else the CPU), or the CPU on every core. */
export type MergeBackendChoice = 'auto' | 'cpu';

const KEPT = 'Nothing of this merge was kept; the merges made before it are kept.';

/** What a user reads when a merge failed: for a lost GPU or a dead worker, what happened and what to do. */
export function mergeFailureMessage(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code === 'device-lost')
    return `The GPU was lost in the middle of this merge. ${KEPT} Merge again to retry on a new GPU device, or set Run on to CPU. (${describeError(e)})`;
  if (code === 'worker-stopped')
    return `A worker stopped in the middle of this merge. ${KEPT} Merge again: the lab starts new workers. (${describeError(e)})`;
  return describeError(e);
}

/** The fault the page's URL asks the next merge to suffer (`?fault=gpu-lost@3`; end-to-end tests only). */
function faultFromUrl(): MergeFault | undefined {
  return typeof location === 'undefined'
    ? undefined
    : parseMergeFault(new URLSearchParams(location.search).get('fault'));
}

/** A merge's place in a sweep: the parameter swept and this merge's value. */
export interface SweepValue {
  readonly param: string;
  readonly value: number;
}

export class MergeState {
  #status = $state<MergeStatus>('idle');
  #progress = $state.raw<MergeProgress | undefined>(undefined);
  #diagnostics = $state.raw<LayerDiagnostics[]>([]);
  #spectra = $state.raw<SpectrumDiagnostics[]>([]);
  #summary = $state.raw<MergeSummary | undefined>(undefined);
  #backendNotice = $state<string | undefined>(undefined);
  #warnings = $state.raw<LabWarning[]>([]);
  #error = $state<string | undefined>(undefined);
  #results = $state.raw<ModelEntry[]>([]);
  #records = $state.raw<Record<string, MergeRecord>>({});
  #incomplete = $state.raw<StoredMerge[]>([]);
  #storeError = $state<string | undefined>(undefined);
  #cleanupNotice = $state<string | undefined>(undefined);
  #backend = $state<MergeBackendChoice>('auto');
  #persistent: Promise<boolean> | undefined;
  #fault = faultFromUrl();
  #count = 0;
  #abort: AbortController | undefined;

  /** `client`: the one merge worker client of the page. */
  constructor(
    private readonly models: ModelsState,
    private readonly client: MergeClient,
  ) {}

  get status(): MergeStatus {
    return this.#status;
  }
  /** Where the next merge runs. */
  get backend(): MergeBackendChoice {
    return this.#backend;
  }
  setBackend(choice: MergeBackendChoice): void {
    this.#backend = choice;
  }
  get progress(): MergeProgress | undefined {
    return this.#progress;
  }
  /** Per-tensor diagnostics of the merge running or last run. */
  get diagnostics(): readonly LayerDiagnostics[] {
    return this.#diagnostics;
  }
  /** SVD merges: the singular-value spectrum of each decomposed matrix. */
  get spectra(): readonly SpectrumDiagnostics[] {
    return this.#spectra;
  }
  get summary(): MergeSummary | undefined {
    return this.#summary;
  }
  get backendNotice(): string | undefined {
    return this.#backendNotice;
  }
  get warnings(): readonly LabWarning[] {
    return this.#warnings;
  }
  get error(): string | undefined {
    return this.#error;
  }
  /** Finished merges (this session's and those found in OPFS), oldest first. */
  get results(): readonly ModelEntry[] {
    return this.#results;
  }
  /** Folders in OPFS left by merges that never finished. */
  get incomplete(): readonly StoredMerge[] {
    return this.#incomplete;
  }
  /** Why the stored merges could not be listed or changed, if they could not. */
  get storeError(): string | undefined {
    return this.#storeError;
  }
  /** What the start-up cleanup removed (folders of merges that never finished), if anything. */
  get cleanupNotice(): string | undefined {
    return this.#cleanupNotice;
  }
  /** How a merge was made (its recipe, label, sweep value), by model name. */
  recordOf(name: string): MergeRecord | undefined {
    return this.#records[name];
  }

  readonly mbPerSecond = $derived(
    this.#progress && this.#progress.elapsedMs > 0 ? this.#progress.bytesDone / 1e3 / this.#progress.elapsedMs : 0,
  );

  /** Lists the merges OPFS holds and adds the finished ones to the models, with their recipes. */
  async restore(): Promise<void> {
    try {
      const stored = await listStoredMerges();
      this.#count = Math.max(this.#count, ...stored.map((s) => s.index));
      // Folders of merges that were cancelled, failed or cut off by a closed tab: removed, unless a
      // merge in another tab still writes one (it holds the folder's lock).
      const leftovers = stored.filter((s) => !s.complete);
      const removed: string[] = [];
      for (const s of leftovers)
        if (await removeIfUnlocked(s.folder, () => deleteStoredMerge(s.name))) removed.push(s.folder);
      this.#incomplete = leftovers.filter((s) => !removed.includes(s.folder));
      if (removed.length)
        this.#cleanupNotice = `Removed what ${removed.length === 1 ? 'an unfinished merge' : `${removed.length} unfinished merges`} left behind (${removed.join(', ')}).`;
      for (const s of stored.filter((x) => x.complete && !this.models.byName(x.name))) {
        const label = s.record?.label ?? s.name;
        const entry = await this.models.add({ name: s.name, files: s.files }, 'merged', label);
        this.#results = [...this.#results, entry];
        if (s.record) this.#records = { ...this.#records, [s.name]: s.record };
      }
    } catch (e) {
      this.#storeError = `The merges kept in this browser could not be listed: ${describeError(e)}`;
    }
  }

  /** Deletes a stored merge: its OPFS folder, and the model the lab made of it. */
  async remove(name: string): Promise<void> {
    try {
      await deleteStoredMerge(name);
    } catch (e) {
      this.#storeError = `${mergeFolder(name)} could not be deleted: ${describeError(e)}`;
      return;
    }
    const entry = this.models.byName(name);
    if (entry?.origin === 'merged') this.models.remove(entry.id);
    this.#results = this.#results.filter((r) => r.name !== name);
    this.#incomplete = this.#incomplete.filter((s) => s.name !== name);
    const { [name]: _gone, ...rest } = this.#records;
    this.#records = rest;
  }

  /** A name whose OPFS folder and model name are free: numbered past every merge seen. */
  private async freshName(method: string): Promise<string> {
    for (;;) {
      const name = `merge-${++this.#count}-${method}`;
      if (!this.models.byName(name) && !(await mergeFolderExists(name))) return name;
    }
  }

  async run(
    recipe: Recipe,
    label?: string,
    activationStats?: ActivationStats,
    sweep?: SweepValue,
  ): Promise<ModelEntry | undefined> {
    if (this.#status === 'running') return undefined;
    this.#status = 'running';
    this.#progress = undefined;
    this.#diagnostics = [];
    this.#spectra = [];
    this.#summary = undefined;
    this.#error = undefined;
    this.#warnings = [];
    const abort = (this.#abort = new AbortController());
    const refs = new Set([...(recipe.baseModel ? [recipe.baseModel] : []), ...recipe.models.map((m) => m.model)]);
    if (recipe.tokenizerSource && recipe.tokenizerSource !== 'base') refs.add(recipe.tokenizerSource);
    const models: Record<string, Record<string, Blob>> = {};
    for (const ref of refs) {
      const entry = this.models.byName(ref);
      if (!entry || entry.status !== 'ready') {
        this.#status = 'failed';
        this.#error = `model '${ref}' is not loaded`;
        return undefined;
      }
      models[ref] = Object.fromEntries(entry.files);
    }
    const pending: LayerDiagnostics[] = [];
    let flush: ReturnType<typeof setTimeout> | undefined;
    let started: string | undefined;
    // An injected fault (tests) hits the first merge only.
    const fault = this.#fault;
    this.#fault = undefined;
    try {
      const name = (started = await this.freshName(recipe.mergeMethod));
      const yaml = emitRecipe(await compileForMerge(recipe, models)); // a sens block compiles against its statistics
      // Kept merges should survive storage pressure: ask once for persistent storage.
      await (this.#persistent ??= requestPersistentStorage());
      const res = await whileWriting(mergeFolder(name), () =>
        this.client.merge(
          {
            recipe: yaml,
            models,
            opfsFolder: mergeFolder(name),
            backend: this.#backend,
            ...(fault ? { fault } : {}),
            ...(activationStats ? { activationStats: JSON.stringify(activationStats) } : {}),
          },
          {
            signal: abort.signal,
            onProgress: (p) => (this.#progress = p),
            onSpectrum: (d) => (this.#spectra = [...this.#spectra, d]),
            onTensor: (tensor, diagnostics) => {
              pending.push({ tensor, diagnostics });
              flush ??= setTimeout(() => {
                this.#diagnostics = [...this.#diagnostics, ...pending.splice(0)];
                flush = undefined;
              }, 100);
            },
          },
        ),
      );
      if (flush) clearTimeout(flush);
      this.#diagnostics = [...this.#diagnostics, ...pending.splice(0)];
      this.#summary = res.summary;
      this.#backendNotice = res.backendNotice;
      this.#warnings = res.warnings;
      const files = new Map(
        Object.entries(res.files).map(([f, b]) => [
          f,
          b instanceof Blob ? b : new Blob([b as Uint8Array<ArrayBuffer>]),
        ]),
      );
      const record: MergeRecord = {
        name,
        label: label ?? name,
        recipe: yaml,
        createdAt: new Date().toISOString(),
        ...(sweep ? { sweep } : {}),
      };
      await writeMergeRecord(record).catch(
        (e) => (this.#storeError = `The recipe could not be kept beside ${name}: ${describeError(e)}`),
      );
      this.#records = { ...this.#records, [name]: record };
      const entry = await this.models.add({ name, files }, 'merged', record.label);
      this.#results = [...this.#results, entry];
      this.#status = 'done';
      return entry;
    } catch (e) {
      this.#status = isAbortError(e) ? 'cancelled' : 'failed';
      this.#error =
        this.#status === 'cancelled' ? 'Merge cancelled: partial output was discarded.' : mergeFailureMessage(e);
      // A worker that died left its folder as it was: remove it (or the next start will).
      const folder = started;
      if (folder && (e as { code?: unknown }).code === 'worker-stopped')
        await removeIfUnlocked(mergeFolder(folder), () => deleteStoredMerge(folder)).catch(() => undefined);
      return undefined;
    } finally {
      this.#abort = undefined;
    }
  }

  cancel(): void {
    this.#abort?.abort();
  }
}
