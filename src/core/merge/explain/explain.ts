/**
 * The Recipe step's toy explanation of any method: the engine merges the toy (toy.ts) with the
 * recipe's method and settings, and the method's explainer lays out the steps. Every method in the
 * registry has an explainer: the table below is typed over every method name.
 */
import type { MergeMethodName, Recipe } from '../../recipe/types';
import { explainKarcher, explainModelStock, explainMultislerp, explainNuslerp } from './geometry';
import { explainPassthrough, explainSvd } from './layers';
import { type ExplainedBody, row } from './rows';
import { explainArceeFusion, explainNearswap, explainRam, explainSce } from './selection';
import { explainLinear, explainSlerp, explainTaskVector } from './task-vector';
import { TOY_SHAPE, TOY_TENSOR, type ToyRun, isRefusal, runToy } from './toy';
import type { Explanation, ExplanationError, ToyStep } from './types';

export const EXPLAINERS: Readonly<Record<MergeMethodName, (run: ToyRun) => ExplainedBody>> = {
  linear: explainLinear,
  task_arithmetic: explainTaskVector,
  ties: explainTaskVector,
  dare_linear: explainTaskVector,
  dare_ties: explainTaskVector,
  breadcrumbs: explainTaskVector,
  breadcrumbs_ties: explainTaskVector,
  della: explainTaskVector,
  della_linear: explainTaskVector,
  sens_merging: explainTaskVector,
  sce: explainSce,
  model_stock: explainModelStock,
  nuslerp: explainNuslerp,
  multislerp: explainMultislerp,
  karcher: explainKarcher,
  nearswap: explainNearswap,
  arcee_fusion: explainArceeFusion,
  ram: explainRam,
  ramplus_tl: explainRam,
  passthrough: explainPassthrough,
  slerp: explainSlerp,
  tsv: explainSvd,
  iso_c: explainSvd,
  iso_cts: explainSvd,
  lore: explainSvd,
  twin: explainSvd,
  low_rank_task_arithmetic: explainSvd,
};

/** The explanation of `recipe`'s method with its settings, or why the engine refuses the toy. */
export async function explainRecipe(recipe: Recipe): Promise<Explanation | ExplanationError> {
  const method = recipe.mergeMethod;
  let run: ToyRun;
  try {
    run = await runToy(recipe);
  } catch (e) {
    if (isRefusal(e)) return { method, error: e.message };
    throw e;
  }
  const body = EXPLAINERS[method](run);
  const aim = aimStep(run);
  const shape = run.spec.name === 'passthrough' ? [2] : TOY_SHAPE;
  return {
    method,
    cols: shape.at(-1)!,
    summary: body.summary,
    steps: aim ? [...body.steps, aim] : body.steps,
    facts: body.facts,
    merged: body.merged,
    mergedIsDelta: body.mergedIsDelta ?? false,
    notes: [...run.notes, ...standsFor(run)],
  };
}

/** AIM's post-step, where the plan applies it: the merged task vector times 1 − (1 − ω)·s_j per input column j. */
function aimStep(run: ToyRun): ToyStep | undefined {
  const aim = run.plan.tensors.find((t) => t.name === TOY_TENSOR)?.aim;
  if (!aim) return undefined;
  const factor = Array.from(
    { length: TOY_SHAPE.reduce((a, b) => a * b, 1) },
    (_, e) => 1 - (1 - aim.omega) * aim.scale[e % aim.cols]!,
  );
  return {
    caption: `AIM (ω = ${aim.omega}): θ = θ₀ + (θ_merged − θ₀) × (1 − (1 − ω)·s_j), s_j = the base's activation of input column j / the largest (toy statistics); the merged row includes it.`,
    rows: [
      row(
        's_j',
        Array.from({ length: factor.length }, (_, e) => aim.scale[e % aim.cols]!),
      ),
      row('AIM factor', factor),
    ],
  };
}

/** Which recipe model each toy model stands for. */
function standsFor(run: ToyRun): string[] {
  const named = [...run.models.values()].filter((m) => m.stands !== undefined);
  return named.length ? [`Toy models for ${named.map((m) => `${m.stands} (${m.label})`).join(', ')}.`] : [];
}
