/** Running a merge in the merge worker: progress, cancel, per-layer diagnostics, the result. */
import { type LabWarning, describeError, isAbortError } from '../../core/errors';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../../core/merge/diagnostics';
import type { MergeProgress, MergeSummary } from '../../core/merge/execute';
import type { Recipe } from '../../core/recipe/types';
import type { ActivationStats } from '../../core/merge/activation-stats';
import { emitRecipe } from '../../core/recipe/parse';
import { MergeClient } from '../../workers/merge-client';
import type { ModelEntry, ModelsState } from './models.svelte';

export interface LayerDiagnostics {
  readonly tensor: string;
  readonly diagnostics: TensorDiagnostics;
}

export type MergeStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'failed';

let mergeCount = 0;

export class MergeState {
  status = $state<MergeStatus>('idle');
  progress = $state.raw<MergeProgress | undefined>(undefined);
  diagnostics = $state.raw<LayerDiagnostics[]>([]);
  /** SVD merges: the singular-value spectrum of each decomposed matrix. */
  spectra = $state.raw<SpectrumDiagnostics[]>([]);
  summary = $state.raw<MergeSummary | undefined>(undefined);
  backendNotice = $state<string | undefined>(undefined);
  warnings = $state.raw<LabWarning[]>([]);
  error = $state<string | undefined>(undefined);
  /** Merges made in this session, newest last. */
  results = $state.raw<ModelEntry[]>([]);
  private client: MergeClient | undefined;
  private abort: AbortController | undefined;

  constructor(private readonly models: ModelsState) {}

  readonly mbPerSecond = $derived(
    this.progress && this.progress.elapsedMs > 0 ? this.progress.bytesDone / 1e3 / this.progress.elapsedMs : 0,
  );

  async run(recipe: Recipe, label?: string, activationStats?: ActivationStats): Promise<ModelEntry | undefined> {
    if (this.status === 'running') return undefined;
    this.client ??= MergeClient.spawn();
    this.status = 'running';
    this.progress = undefined;
    this.diagnostics = [];
    this.spectra = [];
    this.summary = undefined;
    this.error = undefined;
    this.warnings = [];
    this.abort = new AbortController();
    const refs = new Set([...(recipe.baseModel ? [recipe.baseModel] : []), ...recipe.models.map((m) => m.model)]);
    if (recipe.tokenizerSource && recipe.tokenizerSource !== 'base') refs.add(recipe.tokenizerSource);
    const models: Record<string, Record<string, Blob>> = {};
    for (const ref of refs) {
      const entry = this.models.byName(ref);
      if (!entry || entry.status !== 'ready') {
        this.status = 'failed';
        this.error = `model '${ref}' is not loaded`;
        return undefined;
      }
      models[ref] = Object.fromEntries(entry.files);
    }
    const name = `merge-${++mergeCount}-${recipe.mergeMethod}`;
    const pending: LayerDiagnostics[] = [];
    let flush: ReturnType<typeof setTimeout> | undefined;
    try {
      const res = await this.client.merge(
        {
          recipe: emitRecipe(recipe),
          models,
          opfsFolder: `merge-lab-${name}`,
          ...(activationStats ? { activationStats: JSON.stringify(activationStats) } : {}),
        },
        {
          signal: this.abort.signal,
          onProgress: (p) => (this.progress = p),
          onSpectrum: (d) => (this.spectra = [...this.spectra, d]),
          onTensor: (tensor, diagnostics) => {
            pending.push({ tensor, diagnostics });
            flush ??= setTimeout(() => {
              this.diagnostics = [...this.diagnostics, ...pending.splice(0)];
              flush = undefined;
            }, 100);
          },
        },
      );
      if (flush) clearTimeout(flush);
      this.diagnostics = [...this.diagnostics, ...pending.splice(0)];
      this.summary = res.summary;
      this.backendNotice = res.backendNotice;
      this.warnings = res.warnings;
      const files = new Map(
        Object.entries(res.files).map(([f, b]) => [
          f,
          b instanceof Blob ? b : new Blob([b as Uint8Array<ArrayBuffer>]),
        ]),
      );
      const entry = await this.models.add({ name, files }, 'merged', label ?? name);
      this.results = [...this.results, entry];
      this.status = 'done';
      return entry;
    } catch (e) {
      this.status = isAbortError(e) ? 'cancelled' : 'failed';
      this.error = this.status === 'cancelled' ? 'Merge cancelled: partial output was discarded.' : describeError(e);
      return undefined;
    } finally {
      this.abort = undefined;
    }
  }

  cancel(): void {
    this.abort?.abort();
  }
}
