/**
 * The Compare step's Batch: "auto" (the memory plan's largest fitting batch for the chosen models,
 * format and token budget, up to the cap of `merge-lab eval --batch auto`: MAX_AUTO_BATCH in
 * src/infer/batch-plan.ts, which the worker's plans carry) or a number the user typed. A typed batch
 * the plan cannot fit is refused, naming the batch that would.
 */
import type { WeightFormat } from '../../infer/weight-format';
import type { FormatPlans } from '../../workers/eval-client';

/** What the plan says for the chosen weight format. */
export interface BatchPlanView {
  /** The plan's largest fitting batch up to `cap` (0: not even one sequence fits). */
  readonly largest: number;
  /** The most sequences auto takes (MAX_AUTO_BATCH). */
  readonly cap: number;
  /** Whether the plan made for the batch in use fits. */
  readonly fits: boolean;
}

/** Why a Batch value cannot be used, or undefined when it is an integer ≥ 1. */
export function batchProblem(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? undefined
    : 'Batch must be a whole number ≥ 1';
}

/** The batch "auto" runs: the plan's largest (at least 1; when nothing fits the format's own refusal speaks). */
export function autoBatch(plan: BatchPlanView | undefined): number | undefined {
  return plan ? Math.max(1, plan.largest) : undefined;
}

/** The auto choice as the page shows it: "auto (B = 8)", or "auto" until the plan is in. */
export function autoLabel(plan: BatchPlanView | undefined): string {
  const b = autoBatch(plan);
  return b === undefined ? 'auto (planning…)' : `auto (B = ${b})`;
}

/**
 * The refusal of a typed batch the plan cannot fit, naming the batch that fits; undefined when it
 * fits, when no plan is in yet, or when not even one sequence fits (then it is the format that does
 * not fit, and the format's own advice and "load anyway" apply).
 */
export function batchRefusal(batch: number, plan: BatchPlanView | undefined): string | undefined {
  if (!plan || plan.fits || batch <= 1 || plan.largest < 1 || batch <= plan.largest) return undefined;
  const which = plan.largest >= plan.cap ? `a batch of ${plan.largest} fits` : `at most ${plan.largest} fit`;
  return `Batch ${batch} does not fit the memory plan: ${which} (auto takes ${plan.largest})`;
}

/** Each weight format's plan as far as the batch goes, from the worker's format plans. */
export function batchPlansOf(plans: FormatPlans | undefined): Partial<Record<WeightFormat, BatchPlanView>> {
  const view = (fits: boolean, i: number) => ({ largest: plans!.batches[i]!, cap: plans!.maxBatch, fits });
  return Object.fromEntries(plans?.plans.map((p, i) => [p.format, view(p.fits, i)]) ?? []);
}
