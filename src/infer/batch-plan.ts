/**
 * How many sequences fit: the largest batch at which the memory plan (./memory-plan.ts) still fits
 * for the same weights, token budget and target (the KV cache and activations grow with the batch).
 */
import { type PlanRequest, planInferenceMemory } from './memory-plan';

/**
 * The most sequences an evaluation's automatic batch takes: the page's Batch "auto" and, at the same
 * value, `merge-lab eval --batch auto` (the 360-problem demo eval takes the fewest CPU-seconds at 32).
 */
export const MAX_AUTO_BATCH = 32;

/** The largest batch ≤ `req.batch` that fits, or 0 when not even one sequence does. */
export function largestBatch(req: PlanRequest): number {
  const fits = (batch: number) => planInferenceMemory({ ...req, batch }).fits;
  let lo = 1;
  if (!fits(lo)) return 0;
  let hi = req.batch ?? 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The refusal for a batch that does not fit: the batch that would, then the plan's own advice. */
export function batchAdvice(req: PlanRequest, advice: string): string {
  const batch = req.batch ?? 1;
  if (batch <= 1) return advice;
  const fitting = largestBatch(req);
  const budget = req.tokenBudget.toLocaleString('en-US');
  const lead =
    fitting > 0
      ? `a batch of ${batch} does not fit; a batch of up to ${fitting} fits with ${budget} tokens each`
      : `a batch of ${batch} does not fit, nor does one sequence`;
  return `${lead} (for one batch of ${batch}: ${advice})`;
}
