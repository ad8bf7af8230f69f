/**
 * The sparsification step on a small in-memory vector (the Recipe step's toy tensor, tests), with
 * the engine's exact semantics: the same kept ranks (keptRanks), ties lowest index first, DARE's
 * hashed mask, and mergekit's L1 rescale. The engine itself runs sparsify.ts on whole tensors.
 */
import { bernoulliMask } from '../../kernels/bernoulli-mask';
import { dareMask } from '../../kernels/dare-mask';
import { dellaKeep } from '../../kernels/della-keep';
import { magnitudeBand } from '../../kernels/magnitude-band';
import { DEFAULT_EPSILON } from './parameters';
import type { Sparsification } from './registry';
import { RESCALE_EPS, keptRanks } from './sparsify';

export interface SparsifyValuesOptions {
  readonly density: number;
  readonly gamma: number;
  /** DELLA only (default 0.15): keep probabilities span density ± ε by magnitude rank. */
  readonly epsilon?: number;
  readonly rescale: boolean;
  /** DARE and DELLA only: the mask's seed and stream. */
  readonly seed?: number;
  readonly stream?: number;
}

/** The value and tie bound of the top-k cut of |x| (|x| descending, index ascending). */
function cut(x: Float32Array, k: number): { value: number; end: number } {
  if (k <= 0) return { value: Infinity, end: 0 };
  const order = [...x.keys()].sort((i, j) => Math.abs(x[j]!) - Math.abs(x[i]!) || i - j);
  if (k >= order.length) return { value: 0, end: Infinity };
  const last = order[k - 1]!;
  return { value: Math.abs(x[last]!), end: last + 1 };
}

/** x sparsified as the merge sparsifies a task vector (a copy; `x` unchanged). */
export function sparsifyValues(
  x: Float32Array,
  sparsification: Sparsification,
  o: SparsifyValuesOptions,
): Float32Array {
  if (sparsification === 'none' || o.density >= 1) return Float32Array.from(x);
  let kept: Float32Array;
  if (sparsification === 'random') kept = dareMask(x, o.density, o.seed ?? 0, o.stream ?? 0, 0, false);
  else if (sparsification === 'della') {
    if (o.density <= 0) return new Float32Array(x.length);
    const keep = dellaKeep(x, x.length, o.density, o.epsilon ?? DEFAULT_EPSILON);
    kept = bernoulliMask(x, keep, o.seed ?? 0, o.stream ?? 0, 0);
  } else {
    const { top, target } = keptRanks(sparsification, x.length, o.density, o.gamma);
    const lo = cut(x, top + target);
    const hi = top > 0 ? cut(x, top) : { value: Infinity, end: 0 };
    kept = magnitudeBand(x, lo.value, hi.value, lo.end, hi.end);
  }
  if (!o.rescale) return kept;
  const l1 = (v: Float32Array) => v.reduce((s, e) => s + Math.abs(e), 0);
  const [before, after] = [l1(x), l1(kept)];
  return before < RESCALE_EPS || after < RESCALE_EPS ? kept : kept.map((v) => v * (before / after));
}
