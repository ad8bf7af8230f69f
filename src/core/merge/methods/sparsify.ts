/**
 * The sparsification step of the task-vector core, as mergekit's sparsify.py does it, per tensor:
 *   magnitude (TIES):                   keep the top int(density·n) of |δ|;
 *   magnitude_outliers (breadcrumbs):   drop the top int(γ·n), keep the next int(density·n);
 *   random (DARE):                      keep each element with probability density (hashed mask);
 *   della (DELLA's MagPrune):           keep with probability density ± ε by |δ| rank in its row (della.ts);
 * ranks in the order (|δ| descending, index ascending), so the kept count is exact. With `rescale`,
 * the survivors are multiplied by ‖δ‖₁ / ‖sparsified δ‖₁ over the whole tensor (mergekit's L1
 * rescale, for DARE too, instead of the paper's 1/density), unless either norm is below 1e-7.
 */
import { ABS_DIGITS } from '../../kernels/abs-digits';
import { DARE_MASK } from '../../kernels/dare-mask';
import { MAGNITUDE_BAND, type MagnitudeBandParams } from '../../kernels/magnitude-band';
import { EMPTY_CUT, type IndexedChunkVisitor, type RankCut, topKCut } from '../select';
import type { TensorJob } from '../tensor-job';
import { type DellaSparsifier, dellaSparsify } from './della';
import { DEFAULT_EPSILON } from './parameters';
import type { MethodSpec } from './registry';

/** mergekit's `rescaled_masked_tensor` leaves the mask unscaled when either L1 norm is below this. */
export const RESCALE_EPS = 1e-7;

/** How one model's task vector is sparsified (the chunk offset is added per chunk). */
export type Sparsifier<T = unknown> =
  | { readonly kind: 'band'; readonly band: Omit<MagnitudeBandParams, 'offset'> }
  | { readonly kind: 'random'; readonly density: number; readonly stream: number }
  | DellaSparsifier<T>;

/** Keeps nothing (DELLA at density ≤ 0, as mergekit returns zeros). */
const KEEP_NONE: Sparsifier<never> = { kind: 'band', band: { lo: Infinity, loEnd: 0, hi: Infinity, hiEnd: 0 } };

/** The kept ranks [top, top + target) of mergekit's magnitude / magnitude_outliers, for n elements. */
export function keptRanks(
  sparsification: 'magnitude' | 'magnitude_outliers',
  n: number,
  density: number,
  gamma: number,
): { top: number; target: number } {
  const target = Math.floor(density * n);
  if (sparsification === 'magnitude') return { top: 0, target };
  let top = Math.floor(gamma * n);
  const bottom = n - target - top;
  if (bottom < 0) top += bottom;
  return { top, target };
}

/**
 * Model `t`'s sparsifier (t indexes job.inputs). Magnitude cuts are exact whole-tensor selections
 * over `deltas`, recorded in the tensor's diagnostics.
 */
export async function chooseSparsifier<T>(
  job: TensorJob<T>,
  spec: MethodSpec,
  t: number,
  deltas: IndexedChunkVisitor<T>,
): Promise<Sparsifier<T>> {
  const input = job.inputs[t]!;
  const sparsification = spec.sparsification;
  if (sparsification === 'random') return { kind: 'random', density: input.params.density, stream: input.stream };
  if (sparsification === 'della') {
    const { density, epsilon = DEFAULT_EPSILON } = input.params;
    return density <= 0 ? KEEP_NONE : { kind: 'della', density, epsilon, stream: input.stream, deltas };
  }
  if (sparsification !== 'magnitude' && sparsification !== 'magnitude_outliers')
    throw new Error(`${spec.name} does not sparsify`);
  const { top, target } = keptRanks(sparsification, job.numel, input.params.density, input.params.gamma);
  const cut = (k: number) => topKCut(job.backend, deltas, job.chunkElements, k);
  const lo: RankCut = await cut(top + target);
  const hi: RankCut = top > 0 ? await cut(top) : EMPTY_CUT;
  job.diagnostics.thresholds.push({
    model: input.model,
    lo: lo.value,
    ...(hi.value !== Infinity ? { hi: hi.value } : {}),
  });
  return { kind: 'band', band: { lo: lo.value, loEnd: lo.tieEnd, hi: hi.value, hiEnd: hi.tieEnd } };
}

/** Chunk `c` of a sparsified task vector (a new handle; `d` is chunk c of δ). */
export function sparsify<T>(job: TensorJob<T>, s: Sparsifier<T>, d: T, c: number): Promise<T> {
  const offset = c * job.chunkElements;
  if (s.kind === 'della') return dellaSparsify(job, s, d, c);
  if (s.kind === 'band') return job.backend.elementwise(MAGNITUDE_BAND, [d], { ...s.band, offset });
  return job.backend.elementwise(DARE_MASK, [d], {
    density: s.density,
    seed: job.seed,
    stream: s.stream,
    offset,
    rescale: false,
  });
}

/** 16-bit fixed-point digits of |x| summed per L1 norm: 64 bits below the largest |δ|. */
const L1_DIGITS = 4;

/**
 * mergekit's L1 rescale factor ‖δ‖₁ / ‖sparsify(δ)‖₁ over every chunk of the tensor (1 when either
 * norm is below RESCALE_EPS). Both norms are summed exactly in fixed point (kernels/abs-digits.ts:
 * 64 bits below the largest |δ|, elements below that truncated), so the factor, and the merged
 * bytes, are the same whatever the chunking and on every backend.
 */
export async function l1RescaleFactor<T>(
  job: TensorJob<T>,
  s: Sparsifier<T>,
  deltas: IndexedChunkVisitor<T>,
): Promise<number> {
  const be = job.backend;
  // The exponent field of the largest |δ| fixes the fixed-point window.
  const exponents = new Uint32Array(256);
  await deltas((d) => be.absHistogram(d, { prefix: 0, prefixShift: 31, shift: 23, width: 8 }, exponents));
  let emax = 255;
  while (emax >= 0 && exponents[emax] === 0) emax--;
  if (emax < 0 || emax === 255) return 1; // no element, or an infinite |δ|: no finite ratio
  const top = Math.max(emax, 1) - 126; // every |δ| < 2^top
  const digitSums = [new Array<number>(L1_DIGITS).fill(0), new Array<number>(L1_DIGITS).fill(0)];
  await deltas(async (d, c) => {
    const kept = await sparsify(job, s, d, c);
    let ones: T | undefined;
    for (const [j, x] of [d, kept].entries())
      for (let k = 0; k < L1_DIGITS; k++) {
        const digit = await be.elementwise(ABS_DIGITS, [x], { low: top - 16 * (k + 1) });
        ones ??= await be.electSign([digit]); // digits are ≥ 0: all ones
        digitSums[j]![k]! += await be.dot(digit, ones);
        be.release(digit);
      }
    be.release(ones!);
    be.release(kept);
  });
  const [before, after] = digitSums.map((sums) => sums.reduce((acc, v, k) => acc + v * 2 ** (top - 16 * (k + 1)), 0));
  return before! < RESCALE_EPS || after! < RESCALE_EPS ? 1 : before! / after!;
}
