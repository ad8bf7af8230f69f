/**
 * Evaluating models side by side in the evaluation worker: streaming responses, results, sweeps.
 * `batch` problems are answered at once per model (the worker's batched path); every response in
 * flight streams into its model's column, and Cancel stops the whole batch.
 */
import { DEMO_SETS, fetchDemoText } from '../../browser/model-files';
import type { ResponseRecord } from '../../core/eval/metrics';
import { describeError, isAbortError } from '../../core/errors';
import { type ProblemSet, parseProblemSet } from '../../core/eval/problem-set';
import { type TableRow, tableRows } from '../../core/eval/report';
import type { EvalRun } from '../../core/eval/run';
import { sweepRecipes } from '../../core/eval/sweep';
import type { Recipe } from '../../core/recipe/types';
import type { ActivationStats } from '../../core/merge/activation-stats';
import type { EpChoice, EpReport } from '../../infer/runtime';
import type { Q4BlockSize } from '../../core/kernels/q4-pack';
import type { WeightFormat } from '../../infer/weight-format';
import {
  EvalClient,
  type FormatPlans,
  type LoadProgress,
  type LoadedFormat,
  type PlannedEval,
} from '../../workers/eval-client';
import type { MergeState } from './merge.svelte';
import type { ModelsState } from './models.svelte';

export interface LoadedSet {
  readonly id: string;
  readonly text: string;
  readonly set: ProblemSet;
}

export interface SweepPoint {
  readonly value: number;
  readonly model: string;
}

/** Tokens planned for the prompt on top of Max new tokens while no problem set is chosen. */
export const PROMPT_ALLOWANCE = 512;

/** Problems answered at once per model until the memory plan gives its largest fitting batch (up to 8). */
export const DEFAULT_BATCH = 4;

/** A response as it streams in; `done` once its record arrived. */
export interface LiveText {
  readonly problem: string;
  readonly text: string;
  readonly done: boolean;
}

/** Why a Batch value cannot be used, or undefined when it is an integer ≥ 1. */
export function batchProblem(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? undefined
    : 'Batch must be a whole number ≥ 1';
}

/** The loading a model goes through before an evaluation (f16 / q4: hashing, packing, caching). */
export interface ModelLoading extends LoadProgress {
  readonly model: string;
}

export class CompareState {
  sets = $state.raw<LoadedSet[]>([]);
  setId = $state<string | undefined>(undefined);
  setError = $state<string | undefined>(undefined);
  selected = $state.raw<string[]>([]);
  reference = $state<string | undefined>(undefined);
  limit = $state(24);
  maxNewTokens = $state(192);
  /** Problems answered at once per model (continuous batching); 1 answers one at a time. */
  batch = $state<number>(DEFAULT_BATCH);
  /** Whether the user set the batch (else it follows the memory plan). */
  batchChosen = $state(false);
  /** The batch size of the current run (shown with its aggregate tokens/s). */
  runBatch = $state<number | undefined>(undefined);
  /** Execution provider for inference: WebGPU when there is an adapter, else wasm (auto). */
  ep = $state<EpChoice>('auto');
  /** Weight format for inference; q4 packs blocks of `blockSize` along the input dimension. */
  weights = $state<WeightFormat>('f32');
  blockSize = $state<Q4BlockSize>(32);
  /** Load even when the plan says the format does not fit (it may run out of memory). */
  force = $state(false);
  /** What each format would take for the selected models, and whether it fits. */
  formatPlans = $state.raw<FormatPlans | undefined>(undefined);
  planError = $state<string | undefined>(undefined);
  /** The format each loaded model runs with. */
  formats = $state.raw<Record<string, LoadedFormat>>({});
  status = $state<'idle' | 'loading' | 'running' | 'done' | 'cancelled' | 'failed'>('idle');
  /** The load in progress (hashing the checkpoint, packing its weights, writing the cache). */
  loading = $state.raw<ModelLoading | undefined>(undefined);
  error = $state<string | undefined>(undefined);
  progress = $state.raw<{ done: number; total: number; model: string } | undefined>(undefined);
  /** Per model, the responses streaming in (one per sequence of the batch). */
  live = $state.raw<Record<string, LiveText[]>>({});
  eps = $state.raw<Record<string, EpReport>>({});
  run = $state.raw<EvalRun | undefined>(undefined);
  /** The weight format each model of the current run used. */
  runFormats = $state.raw<Record<string, LoadedFormat>>({});
  /** Responses as they arrive, per model (the table fills in live). */
  partial = $state.raw<Record<string, ResponseRecord[]>>({});
  sweep = $state.raw<SweepPoint[]>([]);
  sweepStatus = $state<string | undefined>(undefined);
  private evalClient: EvalClient | undefined;
  private loadedFiles = new Map<string, { files: Map<string, Blob>; ep: EpChoice; setup: string; budget: number }>();
  private planRequest = 0;
  private abort: AbortController | undefined;

  constructor(
    private readonly models: ModelsState,
    private readonly merge: MergeState,
  ) {}

  readonly current = $derived(this.sets.find((s) => s.id === this.setId));
  readonly batchError = $derived(batchProblem(this.batch));
  readonly rows = $derived<TableRow[]>(this.run ? tableRows([this.run], this.reference) : []);

  async loadDemoSets(): Promise<void> {
    for (const d of DEMO_SETS) {
      if (this.sets.some((s) => s.id === d.id)) continue;
      try {
        this.addSet(d.id, await fetchDemoText(d.file), this.setId === undefined || this.setId === d.id);
      } catch (e) {
        this.setError = describeError(e);
      }
    }
  }

  /** Adds a JSONL problem set; malformed lines are reported, an empty set is an error. */
  addSet(id: string, text: string, select = true): void {
    try {
      const set = parseProblemSet(text, id);
      this.sets = [...this.sets.filter((s) => s.id !== id), { id, text, set }];
      if (select) this.setId = id;
      this.setError = set.badLines.length
        ? `${set.badLines.length} malformed line(s) skipped: ${set.badLines
            .slice(0, 3)
            .map((b) => `line ${b.line}: ${b.reason}`)
            .join('; ')}`
        : undefined;
    } catch (e) {
      this.setError = describeError(e);
    }
  }

  /** The evaluation worker (started on first use). */
  client(): EvalClient {
    this.evalClient ??= EvalClient.spawn();
    return this.evalClient;
  }

  /** The evaluation the plans and loads are sized for (its prompts and max new tokens). */
  get plannedEval(): PlannedEval | undefined {
    const set = this.current;
    return set && { setText: set.text, setName: set.id, limit: this.limit, maxNewTokens: this.maxNewTokens };
  }

  /** The budget to plan: the evaluation's own (computed in the worker), else a prompt allowance. */
  private get budgetOptions(): { plannedEval: PlannedEval } | { tokenBudget: number } {
    const plannedEval = this.plannedEval;
    return plannedEval ? { plannedEval } : { tokenBudget: this.maxNewTokens + PROMPT_ALLOWANCE };
  }

  /** Whether the chosen format's plan says it does not fit (then `force` is offered). */
  get chosenDoesNotFit(): boolean {
    return this.formatPlans?.plans.find((p) => p.format === this.weights)?.fits === false;
  }

  /** Plans f32, f16 and q4 for the largest selected model (the latest request wins). */
  async refreshPlans(names: readonly string[] = this.selected): Promise<void> {
    const request = ++this.planRequest;
    const models = new Map<string, Map<string, Blob>>();
    for (const name of names) {
      const entry = this.models.byName(name);
      if (entry?.status === 'ready') models.set(name, entry.files);
    }
    try {
      const plans = models.size
        ? await this.client().planFormats(models, this.ep, {
            blockSize: this.blockSize,
            ...(this.batchError ? {} : { batchSize: this.batch }),
            ...this.budgetOptions,
          })
        : undefined;
      if (request !== this.planRequest) return;
      this.formatPlans = plans;
      this.planError = undefined;
      // Until the user picks a batch, it is the largest (up to 8) the chosen format's plan fits.
      const fitting = plans?.batches[plans.plans.findIndex((p) => p.format === this.weights)];
      if (!this.batchChosen && fitting && fitting !== this.batch) this.batch = fitting;
    } catch (e) {
      if (request !== this.planRequest) return;
      this.formatPlans = undefined;
      this.planError = describeError(e);
    }
  }

  private async ensureLoaded(names: readonly string[], batchSize: number, signal: AbortSignal): Promise<void> {
    const { weights, blockSize } = this;
    const force = this.force && this.chosenDoesNotFit;
    const setup = JSON.stringify({ weights, blockSize: weights === 'q4' ? blockSize : undefined, force, batchSize });
    const budget = this.budgetOptions;
    for (const name of names) {
      const entry = this.models.byName(name);
      if (!entry) throw new Error(`model '${name}' is not loaded`);
      const have = this.loadedFiles.get(name);
      if (have?.files === entry.files && have.ep === this.ep && have.setup === setup) {
        // A larger budget than the one planned at load is planned again (a reload).
        const need =
          'plannedEval' in budget ? await this.client().tokenBudget(name, budget.plannedEval) : budget.tokenBudget;
        if (need !== undefined && need <= have.budget) continue;
      }
      this.loadedFiles.delete(name);
      try {
        const ep = await this.client().load(
          name,
          entry.files,
          this.ep,
          { weights, blockSize, force, batchSize, ...budget },
          { signal, onProgress: (p) => (this.loading = { model: name, ...p }) },
        );
        this.eps = { ...this.eps, [name]: ep };
      } finally {
        this.loading = undefined;
      }
      const format = await this.client().loadedFormat(name);
      if (format) {
        this.formats = { ...this.formats, [name]: format };
        this.loadedFiles.set(name, { files: entry.files, ep: this.ep, setup, budget: format.tokenBudget });
      }
    }
  }

  async evaluate(names: readonly string[] = this.selected): Promise<EvalRun | undefined> {
    const set = this.current;
    if (!set || names.length === 0) return undefined;
    if (this.batchError) {
      this.status = 'failed';
      this.error = this.batchError;
      return undefined;
    }
    const batch = this.batch;
    this.status = 'loading';
    this.error = undefined;
    this.partial = {};
    this.live = {};
    this.run = undefined;
    this.runBatch = undefined;
    this.abort = new AbortController();
    try {
      await this.ensureLoaded(names, batch, this.abort.signal);
      this.status = 'running';
      const run = await this.client().evaluate(
        {
          models: names.map((name) => ({ name })),
          setText: set.text,
          setName: set.id,
          limit: this.limit,
          maxNewTokens: this.maxNewTokens,
          batch,
        },
        {
          signal: this.abort.signal,
          onProgress: (p) => (this.progress = p),
          onText: (model, problem, text) => this.showText(model, problem, text, false),
          onResponse: (model, r) => {
            this.partial = { ...this.partial, [model]: [...(this.partial[model] ?? []), r] };
            this.showText(model, r.problemId, r.text, true);
          },
        },
      );
      this.runBatch = batch;
      this.runFormats = Object.fromEntries(names.flatMap((n) => (this.formats[n] ? [[n, this.formats[n]]] : [])));
      this.run = run;
      this.status = 'done';
      return run;
    } catch (e) {
      this.status = isAbortError(e) ? 'cancelled' : 'failed';
      this.error = describeError(e);
      return undefined;
    } finally {
      this.abort = undefined;
    }
  }

  /**
   * A response's text in its model's column: in flight beside the batch's others; a finished one
   * stays until the next text arrives. Text arriving after its record (callbacks travel apart) is late.
   */
  private showText(model: string, problem: string, text: string, done: boolean): void {
    const column = this.live[model] ?? [];
    const at = column.findIndex((l) => l.problem === problem);
    if (at >= 0 && column[at]!.done) return;
    const kept = column.filter((l) => !l.done || done || l.problem === problem);
    const entry = { problem, text, done };
    this.live = {
      ...this.live,
      [model]: at >= 0 ? kept.map((l) => (l.problem === problem ? entry : l)) : [...kept, entry],
    };
  }

  cancel(): void {
    this.abort?.abort();
    this.merge.cancel();
  }

  /** Merges each value of one recipe parameter, then evaluates the sources and every point together. */
  async runSweep(
    recipe: Recipe,
    param: string,
    values: readonly number[],
    activationStats?: ActivationStats,
  ): Promise<void> {
    this.sweep = [];
    const points: SweepPoint[] = [];
    try {
      for (const { value, recipe: r } of sweepRecipes(recipe, param, values)) {
        this.sweepStatus = `merging ${param} = ${value}…`;
        const entry = await this.merge.run(r, `${recipe.mergeMethod} ${param}=${value}`, activationStats);
        if (!entry) throw new Error(this.merge.error ?? 'merge failed');
        points.push({ value, model: entry.name });
      }
      this.sweep = points;
      const sources = [
        ...new Set([recipe.baseModel, ...recipe.models.map((m) => m.model)].filter((m): m is string => !!m)),
      ];
      this.sweepStatus = 'evaluating…';
      await this.evaluate([...sources, ...points.map((p) => p.model)]);
      this.sweepStatus = undefined;
    } catch (e) {
      this.sweepStatus = `sweep stopped: ${describeError(e)}`;
    }
  }
}
