/**
 * The Compare step's Batch: "auto" (the memory plan's largest fitting batch up to MAX_AUTO_BATCH for
 * the chosen models, format and token budget, as `merge-lab eval --batch auto` takes) or a number the
 * user typed. A typed batch the plan cannot fit is refused, naming the batch that would.
 */
import { MAX_AUTO_BATCH } from '../../infer/batch-plan';
import type { WeightFormat } from '../../infer/weight-format';
import type { FormatPlans } from '../../workers/eval-client';

export { MAX_AUTO_BATCH };

/** What the plan says for the chosen weight format. */
export interface BatchPlanView {
  /** The plan's largest fitting batch up to MAX_AUTO_BATCH (0: not even one sequence fits). */
  readonly largest: number;
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
  const which = plan.largest >= MAX_AUTO_BATCH ? `a batch of ${plan.largest} fits` : `at most ${plan.largest} fit`;
  return `Batch ${batch} does not fit the memory plan: ${which} (auto takes ${plan.largest})`;
}

/** Each weight format's plan as far as the batch goes, from the worker's format plans. */
export function batchPlansOf(plans: FormatPlans | undefined): Partial<Record<WeightFormat, BatchPlanView>> {
  return Object.fromEntries(plans?.plans.map((p, i) => [p.format, { largest: plans.batches[i]!, fits: p.fits }]) ?? []);
}
