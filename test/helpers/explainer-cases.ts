/**
 * The toy explanations' test cases (test/core/method-explainer*.test.ts): recipes as the Recipe form
 * makes them, one per method, and the same toy merged here through the merge entry point on
 * checkpoints written by this file, with its own mergekit recipe.
 */
import { expect } from 'vitest';
import { ACTIVATION_STATS_FORMAT, type ActivationStats } from '../../src/core/merge/activation-stats';
import { TOY_BASE, TOY_DELTAS, TOY_TENSOR } from '../../src/core/merge/explain/toy';
import type { Explanation, ExplanationError } from '../../src/core/merge/explain/types';
import { METHODS } from '../../src/core/merge/methods/registry';
import type { MergeMethodName, Recipe, RecipeModel } from '../../src/core/recipe/types';
import { runMerge, valuesCheckpoint } from './merge-harness';

type Params = Record<string, number | boolean>;

/** A recipe as the Recipe form makes it: base `quick`, the other models `slow`, `third`, … */
export function formRecipe(
  method: MergeMethodName,
  models: Params[],
  globals: Params = {},
  extra: Partial<Recipe> = {},
): Recipe {
  const names = ['slow', 'third', 'fourth'];
  const list: RecipeModel[] = models.map((parameters, i) => ({ model: names[i]!, parameters }));
  return {
    mergeMethod: method,
    baseModel: 'quick',
    models: list,
    parameters: globals,
    randomSeed: 0,
    vocabPolicy: 'error',
    ...extra,
  };
}

const sum = (a: readonly number[], b: readonly number[]) => Float32Array.from(a, (v, i) => v + b[i]!);
export const FINE = TOY_DELTAS.map((d) => sum(TOY_BASE, d));

export function explained(x: Explanation | ExplanationError): Explanation {
  if ('error' in x) throw new Error(`${x.method}: ${x.error}`);
  return x;
}

/** The same merge run here: toy base and fine-tunes (stand-ins get weight 1), through the merge entry point. */
export async function engineToy(r: Recipe, count: number, activations?: readonly number[]): Promise<Float32Array> {
  const spec = METHODS[r.mergeMethod];
  const shape = [2, 4];
  const letters = ['A', 'B', 'C'].slice(0, count);
  const first = r.models[0]?.parameters ?? {};
  const others = letters.map((name, k) => {
    const own = r.models[k]?.parameters ?? { ...first, ...('weight' in first ? { weight: 1 } : {}) };
    return { model: name, parameters: r.mergeMethod === 'sens_merging' ? { weight: 1, ...own } : own };
  });
  // linear has no base: its first model holds θ₀'s values.
  const linear = spec.family === 'linear';
  const values = (k: number) => (linear && k === 0 ? Float32Array.from(TOY_BASE) : FINE[k]!);
  const doc = {
    merge_method: r.mergeMethod === 'sens_merging' ? 'task_arithmetic' : r.mergeMethod,
    ...(linear ? {} : { base_model: 'base' }),
    models: others,
    parameters: r.parameters,
    random_seed: r.randomSeed,
    ...(r.aim ? { aim: { omega: r.aim.omega, calibration: 'toy' } } : {}),
  };
  const ckpts = await Promise.all([
    valuesCheckpoint('base', { [TOY_TENSOR]: { shape, values: TOY_BASE } }),
    ...letters.map((name, k) => valuesCheckpoint(name, { [TOY_TENSOR]: { shape, values: values(k) } })),
  ]);
  const activationStats: ActivationStats | undefined = activations && {
    format: ACTIVATION_STATS_FORMAT,
    version: 1,
    model: 'base',
    calibration: { set: 'toy', samples: 0, tokens: 0 },
    channels: { [TOY_TENSOR]: activations },
  };
  return (await runMerge(JSON.stringify(doc), ckpts, activationStats ? { activationStats } : {})).tensor(TOY_TENSOR);
}

export const close = (got: readonly number[], want: ArrayLike<number>, tol = 1e-6) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!), `[${i}] ${v} vs ${want[i]}`).toBeLessThanOrEqual(tol));
};
export const rowOf = (x: Explanation, label: RegExp) =>
  x.steps.flatMap((s) => s.rows).filter((r) => label.test(r.label));
export const fact = (x: Explanation, label: RegExp) => x.facts.find((f) => label.test(f.label))?.value;

/** One setting per method, as the form would make it, and how many toy models besides the base merge. */
export const CASES: Record<MergeMethodName, { recipe: Recipe; count: number; changed?: Recipe }> = {
  linear: {
    recipe: formRecipe('linear', [{ weight: 0.7 }]),
    count: 2,
    changed: formRecipe('linear', [{ weight: 0.2 }]),
  },
  task_arithmetic: {
    recipe: formRecipe('task_arithmetic', [{ weight: 0.7 }], { lambda: 1 }),
    count: 2,
    changed: formRecipe('task_arithmetic', [{ weight: 0.7 }], { lambda: 2 }),
  },
  ties: {
    recipe: formRecipe('ties', [{ weight: 1, density: 0.5 }]),
    count: 2,
    changed: formRecipe('ties', [{ weight: 1, density: 0.25 }]),
  },
  dare_linear: {
    recipe: formRecipe('dare_linear', [{ weight: 0.7, density: 0.5 }]),
    count: 2,
    changed: formRecipe('dare_linear', [{ weight: 0.7, density: 0.5 }], {}, { randomSeed: 3 }),
  },
  dare_ties: {
    recipe: formRecipe('dare_ties', [{ weight: 1, density: 0.6 }]),
    count: 2,
    changed: formRecipe('dare_ties', [{ weight: 1, density: 0.3 }]),
  },
  breadcrumbs: {
    recipe: formRecipe('breadcrumbs', [{ weight: 1, density: 0.5, gamma: 0.125 }]),
    count: 2,
    changed: formRecipe('breadcrumbs', [{ weight: 1, density: 0.5, gamma: 0.25 }]),
  },
  breadcrumbs_ties: { recipe: formRecipe('breadcrumbs_ties', [{ weight: 1, density: 0.5, gamma: 0.125 }]), count: 2 },
  della: {
    recipe: formRecipe('della', [{ weight: 1, density: 0.5, epsilon: 0.1 }]),
    count: 2,
    changed: formRecipe('della', [{ weight: 1, density: 0.5, epsilon: 0.4 }]),
  },
  della_linear: {
    recipe: formRecipe('della_linear', [{ weight: 0.7, density: 0.6, epsilon: 0.2 }]),
    count: 2,
    changed: formRecipe('della_linear', [{ weight: 0.7, density: 0.3, epsilon: 0.2 }]),
  },
  sens_merging: {
    recipe: formRecipe('sens_merging', [{}], { lambda: 0.7 }),
    count: 2,
    changed: formRecipe('sens_merging', [{}], { lambda: 0.4 }),
  },
  sce: {
    recipe: formRecipe('sce', [{}], { select_topk: 0.5 }),
    count: 2,
    changed: formRecipe('sce', [{}], { select_topk: 1 }),
  },
  model_stock: {
    recipe: formRecipe('model_stock', [{}]),
    count: 2,
    changed: formRecipe('model_stock', [{}], { filter_wise: true }),
  },
  nuslerp: {
    recipe: formRecipe('nuslerp', [{ weight: 0.7 }]),
    count: 2,
    changed: formRecipe('nuslerp', [{ weight: 3 }]),
  },
  multislerp: {
    recipe: formRecipe('multislerp', [{ weight: 0.7 }, { weight: 1 }, { weight: 0.5 }]),
    count: 3,
    changed: formRecipe('multislerp', [{ weight: 2 }, { weight: 1 }, { weight: 0.5 }]),
  },
  karcher: {
    recipe: formRecipe('karcher', [{}, {}], { max_iter: 10 }),
    count: 2,
    changed: formRecipe('karcher', [{}, {}], { max_iter: 0 }),
  },
  nearswap: {
    recipe: formRecipe('nearswap', [{}], { t: 0.45 }),
    count: 1,
    changed: formRecipe('nearswap', [{}], { t: 0.25 }),
  },
  arcee_fusion: { recipe: formRecipe('arcee_fusion', [{}]), count: 1 },
  ram: { recipe: formRecipe('ram', [{}]), count: 2, changed: formRecipe('ram', [{}], { epsilon: 0.35 }) },
  ramplus_tl: {
    recipe: formRecipe('ramplus_tl', [{}], { r: 0.5, alpha: 0.5 }),
    count: 2,
    changed: formRecipe('ramplus_tl', [{}], { r: 1, alpha: 0.5 }),
  },
  passthrough: { recipe: formRecipe('passthrough', [{}], {}, { baseModel: undefined }), count: 1 },
  slerp: { recipe: formRecipe('slerp', [{}], { t: 0.3 }), count: 1, changed: formRecipe('slerp', [{}], { t: 0.8 }) },
  tsv: {
    recipe: formRecipe('tsv', [{ weight: 1 }], { lambda: 0.7 }),
    count: 2,
    changed: formRecipe('tsv', [{ weight: 1 }], { lambda: 1 }),
  },
  iso_c: {
    recipe: formRecipe('iso_c', [{ weight: 1 }], { lambda: 0.7 }),
    count: 2,
    changed: formRecipe('iso_c', [{ weight: 1 }], { lambda: 1.2 }),
  },
  iso_cts: { recipe: formRecipe('iso_cts', [{ weight: 1 }], { lambda: 0.7 }), count: 2 },
  lore: {
    recipe: formRecipe('lore', [{ weight: 0.7 }], { mu: 0.1 }),
    count: 2,
    changed: formRecipe('lore', [{ weight: 0.7 }], { mu: 0.5 }),
  },
  twin: {
    recipe: formRecipe('twin', [{ weight: 0.7 }], { rank: 1 }),
    count: 2,
    changed: formRecipe('twin', [{ weight: 0.7 }], { rank: 2 }),
  },
  low_rank_task_arithmetic: {
    recipe: formRecipe('low_rank_task_arithmetic', [{ weight: 0.7 }], { rank: 1 }),
    count: 2,
    changed: formRecipe('low_rank_task_arithmetic', [{ weight: 0.7 }], { rank: 2 }),
  },
};

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);
export const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
export const minus = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a, (v, i) => v - b[i]!);
export const BASE32 = Float32Array.from(TOY_BASE);
export const D = TOY_DELTAS.map((_, k) => Array.from(Float32Array.from(minus(FINE[k]!, BASE32))));
