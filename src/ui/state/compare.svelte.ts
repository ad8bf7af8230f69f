/**
 * Evaluating models side by side in the evaluation worker: loading them (saying which, of how
 * many, and what the wait is), streaming responses, results. `batch` problems are answered at once
 * per model (the worker's batched path); every response in flight streams into its model's column,
 * and Cancel stops the loads and the whole batch, leaving only the responses that finished.
 * Finished responses are journaled in OPFS (src/browser/eval-journal.ts): after a reload, or a worker
 * that died, Resume runs only the missing problems.
 */
import { EvalJournal, type JournaledEval } from '../../browser/eval-journal';
import type { ResponseRecord } from '../../core/eval/metrics';
import { describeError, isAbortError } from '../../core/errors';
import { type TableRow, tableRows } from '../../core/eval/report';
import type { EvalRun } from '../../core/eval/run';
import type { EpChoice, EpReport } from '../../infer/runtime';
import type { EvalClient, FormatPlans, LoadProgress, LoadedFormat, PlannedEval } from '../../workers/eval-client';
import type { EvalSettings } from './eval-settings.svelte';
import type { MergeState } from './merge.svelte';
import type { ModelsState } from './models.svelte';
import {
  applyJournaledSettings,
  cancelledMessage,
  evalFailureMessage,
  finishedCount,
  journaledSettings,
} from '../parts/interrupted-eval';
import { parseEvalFault, urlFault } from '../../workers/merge-faults';
import { batchPlansOf } from './batch-choice';

/** Tokens planned for the prompt on top of Max new tokens while no problem set is chosen. */
export const PROMPT_ALLOWANCE = 512;

/** A response as it streams in; `done` once its record arrived. */
export interface LiveText {
  readonly problem: string;
  readonly text: string;
  readonly done: boolean;
}

/** The loading a model goes through before an evaluation (f16 / q4: hashing, packing, caching). */
export interface ModelLoading extends LoadProgress {
  readonly model: string;
}

/** The model being loaded before an evaluation: the n-th of `count` (1-based), the first one starting the runtime. */
export interface LoadStep {
  readonly model: string;
  readonly n: number;
  readonly count: number;
  readonly startsRuntime: boolean;
}

export type CompareStatus = 'idle' | 'loading' | 'running' | 'done' | 'cancelled' | 'failed';

export class CompareState {
  #formatPlans = $state.raw<FormatPlans | undefined>(undefined);
  #planError = $state<string | undefined>(undefined);
  #formats = $state.raw<Record<string, LoadedFormat>>({});
  #status = $state<CompareStatus>('idle');
  #loadStep = $state.raw<LoadStep | undefined>(undefined);
  #loading = $state.raw<ModelLoading | undefined>(undefined);
  #error = $state<string | undefined>(undefined);
  #progress = $state.raw<{ done: number; total: number; model: string } | undefined>(undefined);
  #live = $state.raw<Record<string, LiveText[]>>({});
  #eps = $state.raw<Record<string, EpReport>>({});
  #run = $state.raw<EvalRun | undefined>(undefined);
  #runFormats = $state.raw<Record<string, LoadedFormat>>({});
  #runBatch = $state<number | undefined>(undefined);
  #partial = $state.raw<Record<string, ResponseRecord[]>>({});
  #interrupted = $state.raw<JournaledEval | undefined>(undefined);
  #saved = $state(0);
  #resumedCounts = $state.raw<{ kept: number; ran: number } | undefined>(undefined);
  #fault = parseEvalFault(urlFault()); // end-to-end tests: the first evaluation's worker closes itself
  #runtimeStarted = false;
  #loaded = new Map<string, { files: Map<string, Blob>; ep: EpChoice; setup: string; budget: number }>();
  #planRequest = 0;
  #abort: AbortController | undefined;

  /** `client`: the page's one evaluation worker client. */
  constructor(
    readonly settings: EvalSettings,
    private readonly models: ModelsState,
    private readonly merge: MergeState,
    private readonly client: EvalClient,
  ) {
    void this.restoreInterrupted();
  }

  /** An evaluation the page was reloaded or closed in the middle of, with its finished responses. */
  get interrupted(): JournaledEval | undefined {
    return this.#interrupted;
  }
  /** Responses of the current evaluation written to the journal (kept if the page is reloaded). */
  get saved(): number {
    return this.#saved;
  }

  /** A resumed run: responses kept from before, and responses generated now. */
  get resumedCounts(): { kept: number; ran: number } | undefined {
    return this.#resumedCounts;
  }

  private async restoreInterrupted(): Promise<void> {
    const journaled = await EvalJournal.read().catch(() => undefined);
    if (journaled && finishedCount(journaled) > 0 && this.#status === 'idle') this.#interrupted = journaled;
  }

  /** Runs the interrupted evaluation's missing problems, with its settings (put back in the form). */
  async resume(): Promise<EvalRun | undefined> {
    const j = this.#interrupted;
    if (!j || this.busy) return undefined;
    applyJournaledSettings(this.settings, j.settings);
    const names = j.settings.models.map((m) => m.name);
    return this.evaluate(names, j);
  }

  /** Forgets the interrupted evaluation. */
  async discardInterrupted(): Promise<void> {
    this.#interrupted = undefined;
    await EvalJournal.clear();
  }

  /** What each format would take for the selected models, and whether it fits. */
  get formatPlans(): FormatPlans | undefined {
    return this.#formatPlans;
  }
  get planError(): string | undefined {
    return this.#planError;
  }
  /** The format each loaded model runs with. */
  get formats(): Readonly<Record<string, LoadedFormat>> {
    return this.#formats;
  }
  get status(): CompareStatus {
    return this.#status;
  }
  /** Which model is loading, of how many (before the first response). */
  get loadStep(): LoadStep | undefined {
    return this.#loadStep;
  }
  /** The load in progress (hashing the checkpoint, packing its weights, writing the cache). */
  get loading(): ModelLoading | undefined {
    return this.#loading;
  }
  get error(): string | undefined {
    return this.#error;
  }
  get progress(): { done: number; total: number; model: string } | undefined {
    return this.#progress;
  }
  /** Per model, the responses streaming in (one per sequence of the batch). */
  get live(): Readonly<Record<string, LiveText[]>> {
    return this.#live;
  }
  get eps(): Readonly<Record<string, EpReport>> {
    return this.#eps;
  }
  get run(): EvalRun | undefined {
    return this.#run;
  }
  /** The weight format each model of the current run used. */
  get runFormats(): Readonly<Record<string, LoadedFormat>> {
    return this.#runFormats;
  }
  /** The batch size of the current run (shown with its aggregate tokens/s). */
  get runBatch(): number | undefined {
    return this.#runBatch;
  }
  /** Finished responses as they arrive, per model (what a cancelled run keeps). */
  get partial(): Readonly<Record<string, ResponseRecord[]>> {
    return this.#partial;
  }
  /** What the evaluation is doing, in words (`label` names a model), while it is busy. */
  waitText(label: (model: string) => string = (m) => m): string | undefined {
    if (this.#status === 'loading') {
      const step = this.#loadStep;
      if (!step) return 'Preparing the models…';
      const what = step.startsRuntime
        ? 'Starting the inference runtime (onnxruntime-web, first time only) and loading'
        : 'Loading';
      return `${what} model ${step.n} of ${step.count}: ${label(step.model)}…`;
    }
    if (this.#status !== 'running') return undefined;
    const p = this.#progress;
    return p
      ? `${p.done}/${p.total} responses · now ${label(p.model)}`
      : 'Models loaded; compiling and reading the first prompts…';
  }
  get busy(): boolean {
    return this.#status === 'loading' || this.#status === 'running';
  }

  /** The results table of the current run (lengths against the chosen reference). */
  get rows(): TableRow[] {
    return this.#run ? tableRows([this.#run], this.settings.reference) : [];
  }

  /** The budget to plan: the evaluation's own (computed in the worker), else a prompt allowance. */
  private get budgetOptions(): { plannedEval: PlannedEval } | { tokenBudget: number } {
    const { plannedEval, maxNewTokens, maxNewTokensError } = this.settings;
    return plannedEval ? { plannedEval } : { tokenBudget: (maxNewTokensError ? 0 : maxNewTokens) + PROMPT_ALLOWANCE };
  }

  /** Whether the chosen format's plan says it does not fit (then `force` is offered). */
  get chosenDoesNotFit(): boolean {
    return this.#formatPlans?.plans.find((p) => p.format === this.settings.weights)?.fits === false;
  }

  /** Plans f32, f16 and q4 for the largest selected model (the latest request wins). */
  async refreshPlans(names: readonly string[] = this.settings.selected): Promise<void> {
    const request = ++this.#planRequest;
    const s = this.settings;
    const models = new Map<string, Map<string, Blob>>();
    for (const name of names) {
      const entry = this.models.byName(name);
      if (entry?.status === 'ready') models.set(name, entry.files);
    }
    try {
      const plans = models.size
        ? await this.client.planFormats(models, s.ep, {
            blockSize: s.blockSize,
            ...(s.batchError ? {} : { batchSize: s.batch }),
            ...this.budgetOptions,
          })
        : undefined;
      if (request !== this.#planRequest) return;
      this.#formatPlans = plans;
      this.#planError = undefined;
      s.setBatchPlans(batchPlansOf(plans)); // Batch "auto", and the refusal of a typed batch past it
    } catch (e) {
      if (request !== this.#planRequest) return;
      this.#formatPlans = undefined;
      this.#planError = describeError(e);
    }
  }

  private async ensureLoaded(names: readonly string[], batchSize: number, signal: AbortSignal): Promise<void> {
    const { weights, blockSize, ep } = this.settings;
    const force = this.settings.force && this.chosenDoesNotFit;
    const setup = JSON.stringify({ weights, blockSize: weights === 'q4' ? blockSize : undefined, force, batchSize });
    const budget = this.budgetOptions;
    for (const [i, name] of names.entries()) {
      const entry = this.models.byName(name);
      if (!entry) throw new Error(`model '${name}' is not loaded`);
      const have = this.#loaded.get(name);
      if (have?.files === entry.files && have.ep === ep && have.setup === setup) {
        // A larger budget than the one planned at load is planned again (a reload).
        const need =
          'plannedEval' in budget ? await this.client.tokenBudget(name, budget.plannedEval) : budget.tokenBudget;
        if (need !== undefined && need <= have.budget) continue;
      }
      this.#loaded.delete(name);
      this.#loadStep = { model: name, n: i + 1, count: names.length, startsRuntime: !this.#runtimeStarted };
      try {
        const report = await this.client.load(
          name,
          entry.files,
          ep,
          { weights, blockSize, force, batchSize, ...budget },
          { signal, onProgress: (p) => (this.#loading = { model: name, ...p }) },
        );
        this.#runtimeStarted = true;
        this.#eps = { ...this.#eps, [name]: report };
      } finally {
        this.#loading = undefined;
      }
      const format = await this.client.loadedFormat(name);
      if (format) {
        this.#formats = { ...this.#formats, [name]: format };
        this.#loaded.set(name, { files: entry.files, ep, setup, budget: format.tokenBudget });
      }
    }
    this.#loadStep = undefined;
  }

  /** `resumed`: an interrupted evaluation of the same models and settings, whose finished responses are kept. */
  async evaluate(
    names: readonly string[] = this.settings.selected,
    resumed?: JournaledEval,
  ): Promise<EvalRun | undefined> {
    const s = this.settings;
    const set = s.current;
    if (!set || names.length === 0) return undefined;
    if (s.problem) {
      this.#status = 'failed';
      this.#error = s.problem;
      return undefined;
    }
    if (s.batchAuto && !s.batchPlan) await this.refreshPlans(names); // auto's batch is the plan's
    const { batch, limit, maxNewTokens } = s;
    this.#status = 'loading';
    this.#error = undefined;
    const finished = Object.fromEntries(names.map((n) => [n, [...(resumed?.records[n] ?? [])]]));
    this.#partial = resumed ? finished : {};
    this.#saved = resumed ? finishedCount(resumed) : 0;
    this.#interrupted = undefined;
    this.#resumedCounts = undefined;
    const generated = new Set<string>(); // the responses the models produced text for in this run
    this.#live = {};
    this.#progress = undefined;
    this.#run = undefined;
    this.#runBatch = undefined;
    const abort = (this.#abort = new AbortController());
    // Finished responses go to the journal one after another (a failing write loses only the journal).
    let writes: Promise<unknown> = (
      resumed ? EvalJournal.reopen() : EvalJournal.start(journaledSettings(s, this.models, names, set))
    ).catch(() => undefined);
    const journal = (model: string, r: ResponseRecord) =>
      (writes = writes.then(async (j) => {
        if (!(j instanceof EvalJournal)) return j;
        await j.add(model, r).catch(() => undefined);
        if (!abort.signal.aborted) this.#saved++;
        return j;
      }));
    try {
      await this.ensureLoaded(names, batch, abort.signal);
      this.#status = 'running';
      const fault = this.#fault;
      this.#fault = undefined;
      const run = await this.client.evaluate(
        {
          models: names.map((name) => ({ name })),
          setText: set.text,
          setName: set.id,
          limit,
          maxNewTokens,
          batch,
          ...(resumed ? { finished } : {}),
          ...(fault ? { fault } : {}),
        },
        {
          signal: abort.signal,
          onProgress: (p) => !abort.signal.aborted && (this.#progress = p),
          onText: (model, problem, text) => {
            generated.add(`${model}\n${problem}`);
            if (!abort.signal.aborted) this.showText(model, problem, text, false);
          },
          onResponse: (model, r) => {
            if (abort.signal.aborted || finished[model]?.some((f) => f.problemId === r.problemId)) return;
            journal(model, r);
            this.#partial = { ...this.#partial, [model]: [...(this.#partial[model] ?? []), r] };
            this.showText(model, r.problemId, r.text, true);
          },
        },
      );
      // A cancel that arrives as the last token is produced still cancels.
      if (abort.signal.aborted) throw new DOMException('evaluation cancelled', 'AbortError');
      await writes;
      await EvalJournal.clear();
      this.#runBatch = batch;
      if (resumed) this.#resumedCounts = { kept: finishedCount(resumed), ran: generated.size };
      this.#runFormats = Object.fromEntries(names.flatMap((n) => (this.#formats[n] ? [[n, this.#formats[n]]] : [])));
      this.#run = run;
      this.#status = 'done';
      return run;
    } catch (e) {
      const cancelled = isAbortError(e) || abort.signal.aborted;
      const done = Object.values(this.#partial).reduce((a, rs) => a + rs.length, 0);
      // Read back the kept responses first, so the message and the responses it names appear together.
      if ((e as { code?: unknown }).code === 'worker-stopped') await this.afterWorkerDied(writes);
      this.#status = cancelled ? 'cancelled' : 'failed';
      this.#error = cancelled ? cancelledMessage(done) : evalFailureMessage(e, done);
      // A cancelled evaluation is not offered again; a failed one is, on the next start.
      if (this.#status === 'cancelled') await writes.then(() => EvalJournal.clear());
      return undefined;
    } finally {
      this.#loadStep = undefined;
      this.#abort = undefined;
    }
  }

  /** The worker died: its models are gone; the journaled responses are offered for Resume at once. */
  private async afterWorkerDied(writes: Promise<unknown>): Promise<void> {
    this.#loaded.clear();
    [this.#runtimeStarted, this.#formats, this.#eps] = [false, {}, {}];
    await writes;
    const journaled = await EvalJournal.read().catch(() => undefined);
    if (journaled && finishedCount(journaled) > 0) this.#interrupted = journaled;
  }

  /**
   * A response's text in its model's column: in flight beside the batch's others; a finished one
   * stays until the next text arrives. Text arriving after its record (callbacks travel apart) is late.
   */
  private showText(model: string, problem: string, text: string, done: boolean): void {
    const column = this.#live[model] ?? [];
    const at = column.findIndex((l) => l.problem === problem);
    if (at >= 0 && column[at]!.done) return;
    const kept = column.filter((l) => !l.done || done || l.problem === problem);
    const entry = { problem, text, done };
    this.#live = {
      ...this.#live,
      [model]: at >= 0 ? kept.map((l) => (l.problem === problem ? entry : l)) : [...kept, entry],
    };
  }

  cancel(): void {
    this.#abort?.abort();
    this.merge.cancel();
  }
}
