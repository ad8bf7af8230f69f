/**
 * An independent plain-JS statement of mergekit's generalized task arithmetic (its
 * generalized_task_arithmetic.py, sparsify.py and config.py's evaluate_setting, as of current
 * main), in f64 on small tensors, for tests that compare Merge Lab's output with what mergekit
 * computes. Nothing here calls Merge Lab's merge code; DARE's mask is Merge Lab's documented hash
 * (mergekit draws it from torch), taken from the rng module as the method tests do.
 */
import { daresKeepThreshold, fnv1a, lowbias32, randomU32 } from '../../src/core/kernels/rng';

export type RefSetting = number | number[] | { filter?: string; value: number | number[] }[];

export interface RefModel {
  readonly name: string;
  readonly weight: RefSetting;
  readonly density?: RefSetting;
  readonly gamma?: RefSetting;
}

export interface RefRecipe {
  readonly method: 'task_arithmetic' | 'ties' | 'dare_linear' | 'dare_ties' | 'breadcrumbs' | 'breadcrumbs_ties';
  readonly base: string;
  readonly models: readonly RefModel[];
  readonly lambda?: number;
  readonly normalize?: boolean;
  readonly rescale?: boolean;
  readonly seed?: number;
}

const SPARSIFY = {
  task_arithmetic: undefined,
  ties: 'magnitude',
  dare_linear: 'random',
  dare_ties: 'random',
  breadcrumbs: 'magnitude_outliers',
  breadcrumbs_ties: 'magnitude_outliers',
} as const;
const CONSENSUS = new Set(['ties', 'dare_ties', 'breadcrumbs_ties']);
const DEFAULT_NORMALIZE = new Set(['ties']);
const DEFAULT_RESCALE = new Set(['dare_linear', 'dare_ties']);

/** mergekit's evaluate_setting. */
export function evaluateRef(setting: RefSetting, tensor: string, t: number): number | undefined {
  if (typeof setting === 'number') return setting;
  if (setting.every((e) => typeof e === 'number')) {
    const list = setting as number[];
    const scaled = t * (list.length - 1);
    const i0 = Math.trunc(scaled);
    const i1 = Math.min(list.length - 1, i0 + 1);
    const frac = scaled - i0;
    return (1 - frac) * list[i0]! + frac * list[i1]!;
  }
  for (const c of setting as { filter?: string; value: number | number[] }[])
    if (c.filter === undefined || c.filter === '*' || tensor.includes(c.filter)) return evaluateRef(c.value, tensor, t);
  return undefined;
}

/** mergekit's planner: layer i of L at i/(L−1) (one layer: 1); everything outside the layers at 0. */
export function depthRef(tensor: string, numLayers: number): number {
  const m = /layers\.(\d+)\./.exec(tensor);
  if (!m) return 0;
  return numLayers > 1 ? Number(m[1]) / (numLayers - 1) : 1;
}

/** Order of indices by |d| descending, ties lowest index first (a stable descending argsort). */
function byMagnitude(d: readonly number[]): number[] {
  return d.map((_, i) => i).sort((i, j) => Math.abs(d[j]!) - Math.abs(d[i]!) || i - j);
}

/** sparsify.py's magnitude / magnitude_outliers / bernoulli masks (1 = kept). */
export function maskRef(
  kind: 'magnitude' | 'magnitude_outliers' | 'random',
  d: readonly number[],
  density: number,
  gamma: number,
  dare?: { seed: number; stream: number },
): number[] {
  const n = d.length;
  if (density >= 1) return d.map(() => 1);
  if (kind === 'random') {
    const keep = daresKeepThreshold(density);
    return d.map((_, i) => (randomU32(dare!.seed, dare!.stream, i) >>> 8 < keep ? 1 : 0));
  }
  const target = Math.trunc(density * n);
  let top = kind === 'magnitude' ? 0 : Math.trunc(gamma * n);
  const bottom = n - target - top;
  if (bottom < 0) top += bottom;
  const mask = d.map(() => 0);
  // magnitude_outliers takes indices[n_bot:-n_top] of an ascending sort: empty when n_top = 0.
  if (kind === 'magnitude_outliers' && top === 0) return mask;
  for (const i of byMagnitude(d).slice(top, top + target)) mask[i] = 1;
  return mask;
}

/** rescaled_masked_tensor with the L1 norm. */
export function rescaleRef(d: readonly number[], mask: readonly number[]): number[] {
  const masked = d.map((v, i) => v * mask[i]!);
  const before = d.reduce((s, v) => s + Math.abs(v), 0);
  const after = masked.reduce((s, v) => s + Math.abs(v), 0);
  if (before < 1e-7 || after < 1e-7) return masked;
  return masked.map((v) => v * (before / after));
}

/**
 * GTATask.execute for one tensor: `inputs` maps model name → values; `numLayers` places the tensor
 * on the depth axis for gradients. Returns base + λ · mixed.
 */
export function mergeRef(
  r: RefRecipe,
  tensor: string,
  inputs: Readonly<Record<string, readonly number[]>>,
  numLayers: number,
): number[] {
  const t = depthRef(tensor, numLayers);
  const base = inputs[r.base]!;
  const kind = SPARSIFY[r.method];
  const rescale = r.rescale ?? DEFAULT_RESCALE.has(r.method);
  const tvs = r.models.map((m, modelIndex) => {
    const weight = evaluateRef(m.weight, tensor, t)!;
    const density = m.density !== undefined ? evaluateRef(m.density, tensor, t)! : 1;
    const gamma = m.gamma !== undefined ? evaluateRef(m.gamma, tensor, t)! : 0.01;
    let delta = inputs[m.name]!.map((v, i) => v - base[i]!);
    if (kind) {
      const stream = (fnv1a(tensor) ^ lowbias32(modelIndex + 1)) >>> 0;
      const mask = maskRef(kind, delta, density, gamma, { seed: r.seed ?? 0, stream });
      delta = density >= 1 ? delta : rescale ? rescaleRef(delta, mask) : delta.map((v, i) => v * mask[i]!);
    }
    return { weight, delta };
  });
  const normalize = r.normalize ?? DEFAULT_NORMALIZE.has(r.method);
  const lambda = r.lambda ?? 1;
  return base.map((b, i) => {
    const x = tvs.map((tv) => tv.delta[i]! * tv.weight);
    let mixed: number;
    let divisor: number;
    if (CONSENSUS.has(r.method)) {
      const majority = x.reduce((s, v) => s + v, 0) >= 0 ? 1 : -1;
      const agree = x.map((v) => Math.sign(v) === majority);
      mixed = x.reduce((s, v, k) => s + (agree[k] ? v : 0), 0);
      divisor = tvs.reduce((s, tv, k) => s + (agree[k] ? tv.weight : 0), 0);
      if (divisor === 0) divisor = 1;
    } else {
      mixed = x.reduce((s, v) => s + v, 0);
      divisor = tvs.reduce((s, tv) => s + tv.weight, 0);
      if (Math.abs(divisor) < 1e-8) divisor = 1;
    }
    if (normalize) mixed /= divisor;
    return b + lambda * mixed;
  });
}

/** The recipe as mergekit YAML (float32 output, so tests read the f32 result). */
export function refYaml(r: RefRecipe): string {
  const params = (m: RefModel) =>
    JSON.stringify({
      weight: m.weight,
      ...(m.density !== undefined ? { density: m.density } : {}),
      ...(m.gamma !== undefined ? { gamma: m.gamma } : {}),
    });
  const global = {
    ...(r.lambda !== undefined ? { lambda: r.lambda } : {}),
    ...(r.normalize !== undefined ? { normalize: r.normalize } : {}),
    ...(r.rescale !== undefined ? { rescale: r.rescale } : {}),
  };
  return [
    `merge_method: ${r.method}`,
    `base_model: ${r.base}`,
    'models:',
    ...r.models.map((m) => `  - {model: ${m.name}, parameters: ${params(m)}}`),
    ...(Object.keys(global).length ? [`parameters: ${JSON.stringify(global)}`] : []),
    ...(r.seed !== undefined ? [`random_seed: ${r.seed}`] : []),
    'dtype: float32',
  ].join('\n');
}
