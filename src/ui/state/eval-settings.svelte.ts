/**
 * What an evaluation runs on, as the Compare step edits it: the problem sets, the models, the
 * length reference, Problems, Max new tokens, Batch, the execution provider and the weight format.
 * Every change goes through a method; a value out of range is kept (so the field shows what was
 * typed) but refused: `problem` says why, and Evaluate waits until it is fixed. Batch is "auto" (the
 * memory plan's batch, ./batch-choice.ts) until a number is typed; a typed batch the plan cannot fit is refused.
 */
import { DEMO_SETS, fetchDemoText } from '../../browser/model-files';
import { describeError } from '../../core/errors';
import { type ProblemSet, parseProblemSet } from '../../core/eval/problem-set';
import type { Q4BlockSize } from '../../core/kernels/q4-pack';
import type { EpChoice } from '../../infer/runtime';
import type { WeightFormat } from '../../infer/weight-format';
import type { PlannedEval } from '../../workers/eval-client';
import { type BatchPlanView, autoBatch, batchProblem, batchRefusal } from './batch-choice';

export interface LoadedSet {
  readonly id: string;
  readonly text: string;
  readonly set: ProblemSet;
}

/** The accepted range of Max new tokens and of Problems. */
export const MAX_NEW_TOKENS_RANGE = [1, 8192] as const;
export const PROBLEMS_RANGE = [1, 10000] as const;

/** Why a value cannot be used as a whole number in [lo, hi], or undefined when it can. */
function wholeProblem(label: string, value: unknown, [lo, hi]: readonly [number, number]): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi
    ? undefined
    : `${label} must be a whole number from ${lo} to ${hi.toLocaleString('en-US')}`;
}

export class EvalSettings {
  #sets = $state.raw<LoadedSet[]>([]);
  #setId = $state<string | undefined>(undefined);
  #setError = $state<string | undefined>(undefined);
  #selected = $state.raw<string[]>([]);
  #selectionChosen = $state(false);
  #reference = $state<string | undefined>(undefined);
  #limit = $state<number>(24);
  #maxNewTokens = $state<number>(192);
  /** The typed batch, used unless `#batchAuto`. */
  #batch = $state<number>(1);
  #batchAuto = $state(true);
  /** Per weight format, its plan as far as the batch goes (from the Compare state's plans). */
  #batchPlans = $state.raw<Partial<Record<WeightFormat, BatchPlanView>>>({});
  #ep = $state<EpChoice>('auto');
  #weights = $state<WeightFormat>('f32');
  #blockSize = $state<Q4BlockSize>(32);
  #force = $state(false);

  get sets(): readonly LoadedSet[] {
    return this.#sets;
  }
  get setId(): string | undefined {
    return this.#setId;
  }
  get setError(): string | undefined {
    return this.#setError;
  }
  /** The models to evaluate, in the order they were ticked. */
  get selected(): readonly string[] {
    return this.#selected;
  }
  /** Whether the user ticked or unticked a model (until then the Compare step proposes a selection). */
  get selectionChosen(): boolean {
    return this.#selectionChosen;
  }
  /** The model lengths are compared against (System 2 in the paper). */
  get reference(): string | undefined {
    return this.#reference;
  }
  get limit(): number {
    return this.#limit;
  }
  get maxNewTokens(): number {
    return this.#maxNewTokens;
  }
  /**
   * Problems answered at once per model (continuous batching); 1 answers one at a time. Auto: the
   * memory plan's largest fitting batch (1 until the plan is in; Evaluate waits for it).
   */
  get batch(): number {
    return this.#batchAuto ? (autoBatch(this.batchPlan) ?? 1) : this.#batch;
  }
  /** Whether Batch follows the memory plan (the default) rather than a typed number. */
  get batchAuto(): boolean {
    return this.#batchAuto;
  }

  /** Execution provider for inference: WebGPU when there is an adapter, else wasm (auto). */
  get ep(): EpChoice {
    return this.#ep;
  }
  /** Weight format for inference; q4 packs blocks of `blockSize` along the input dimension. */
  get weights(): WeightFormat {
    return this.#weights;
  }
  get blockSize(): Q4BlockSize {
    return this.#blockSize;
  }
  /** Load even when the plan says the format does not fit (it may run out of memory). */
  get force(): boolean {
    return this.#force;
  }

  readonly current = $derived(this.#sets.find((s) => s.id === this.#setId));
  readonly limitError = $derived(wholeProblem('Problems', this.#limit, PROBLEMS_RANGE));
  readonly maxNewTokensError = $derived(wholeProblem('Max new tokens', this.#maxNewTokens, MAX_NEW_TOKENS_RANGE));
  /** The chosen format's plan as far as the batch goes (undefined until it is in). */
  readonly batchPlan = $derived(this.#batchPlans[this.#weights]);
  readonly batchError = $derived(this.#batchAuto ? undefined : batchProblem(this.#batch));
  /** A typed batch the memory plan cannot fit, refused with the batch that would. */
  readonly batchFitError = $derived(
    this.#batchAuto || this.batchError ? undefined : batchRefusal(this.#batch, this.batchPlan),
  );
  /** The first reason the settings cannot run, if any. */
  readonly problem = $derived(this.limitError ?? this.maxNewTokensError ?? this.batchError ?? this.batchFitError);

  /** The evaluation the plans and loads are sized for (its prompts and max new tokens). */
  get plannedEval(): PlannedEval | undefined {
    const set = this.current;
    return set && !this.maxNewTokensError && !this.limitError
      ? { setText: set.text, setName: set.id, limit: this.#limit, maxNewTokens: this.#maxNewTokens }
      : undefined;
  }

  selectSet(id: string | undefined): void {
    this.#setId = id;
  }
  setLimit(n: number): void {
    this.#limit = n;
  }
  setMaxNewTokens(n: number): void {
    this.#maxNewTokens = n;
  }
  /** The user's batch: the memory plan no longer picks it (until `useAutoBatch`). */
  setBatch(n: number): void {
    this.#batch = n;
    this.#batchAuto = false;
  }
  /** Back to the memory plan's batch. */
  useAutoBatch(): void {
    this.#batchAuto = true;
  }
  /** Every format's plan (its largest fitting batch), as the Compare state receives them. */
  setBatchPlans(plans: Partial<Record<WeightFormat, BatchPlanView>>): void {
    if (JSON.stringify(plans) !== JSON.stringify(this.#batchPlans)) this.#batchPlans = plans;
  }
  setEp(ep: EpChoice): void {
    this.#ep = ep;
  }
  setWeights(w: WeightFormat): void {
    this.#weights = w;
  }
  setBlockSize(b: Q4BlockSize): void {
    this.#blockSize = b;
  }
  setForce(on: boolean): void {
    this.#force = on;
  }
  /** A proposed selection (the user's own choice, once made, is never replaced). */
  propose(names: readonly string[]): void {
    if (this.#selectionChosen) return;
    const next = [...new Set(names)];
    if (next.join('\n') !== this.#selected.join('\n')) this.#selected = next;
  }
  /** The user ticks or unticks a model. */
  toggle(name: string, on: boolean): void {
    this.#selectionChosen = true;
    this.#selected = on ? [...new Set([...this.#selected, name])] : this.#selected.filter((n) => n !== name);
  }
  setReference(name: string | undefined): void {
    this.#reference = name;
  }

  async loadDemoSets(): Promise<void> {
    for (const d of DEMO_SETS) {
      if (this.#sets.some((s) => s.id === d.id)) continue;
      try {
        this.addSet(d.id, await fetchDemoText(d.file), this.#setId === undefined || this.#setId === d.id);
      } catch (e) {
        this.#setError = describeError(e);
      }
    }
  }

  /** Adds a JSONL problem set; malformed lines are reported, an empty set is an error. */
  addSet(id: string, text: string, select = true): void {
    try {
      const set = parseProblemSet(text, id);
      this.#sets = [...this.#sets.filter((s) => s.id !== id), { id, text, set }];
      if (select) this.#setId = id;
      this.#setError = set.badLines.length
        ? `${set.badLines.length} malformed line(s) skipped: ${set.badLines
            .slice(0, 3)
            .map((b) => `line ${b.line}: ${b.reason}`)
            .join('; ')}`
        : undefined;
    } catch (e) {
      this.#setError = describeError(e);
    }
  }
}
