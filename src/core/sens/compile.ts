/**
 * A recipe with a `sens` block → the recipe it stands for: each model's weight becomes a list of
 * tensor-name filters, one per layer group, holding w·w_i^l (coefficients.ts); λ stays outside and
 * nothing is renormalised by Σw (reference §1.6, §4.11). `sens_merging` becomes task_arithmetic;
 * task_arithmetic, ties, dare_linear and dare_ties keep their method. Every backend then runs the
 * compiled recipe on its existing kernels, and mergekit runs it unchanged. The statistics arrive
 * parsed (the CLI reads files, the page imports or computes them); each is checked against its
 * model's checkpoint (name, shape, every layer group present) before anything is merged.
 */
import { RecipeError } from '../errors';
import type { Checkpoint } from '../formats/checkpoint';
import type { ConditionalSetting, Recipe, Setting } from '../recipe/types';
import { type SensCoefficients, type SensInput, sensCoefficients } from './coefficients';
import { SENS_METHOD } from './settings';
import { type SensStats, checkStatsFor, isBlockGroup } from './stats';

const SENS_NEEDS_BLOCK = 'sens_merging needs a `sens` mapping with `statistics` (model → statistics file)';

export interface CompiledSens {
  readonly recipe: Recipe;
  readonly coefficients: SensCoefficients;
  /** λ of the recipe (1 when it sets none): the coefficients drawn are λ·w. */
  readonly lambda: number;
}

/** What checkStatsFor compares a statistics file with. */
export function sensModelInfo(ckpt: Checkpoint) {
  const c = ckpt.config;
  if (!c) throw new RecipeError('sens', `${ckpt.name}: Sens-Merging needs the model's config.json`);
  return {
    name: ckpt.name,
    layers: c.numLayers,
    hidden: c.hiddenSize,
    vocab: c.vocabSize,
    tensors: [...ckpt.tensors.keys()],
  };
}

/** The tensor-name filter of a layer group (the trailing dot keeps model.layers.1 from matching model.layers.10). */
export const groupFilter = (group: string): string => `${group}.`;

function scaled(w: Setting, by: number, field: string): number | number[] {
  if (typeof w === 'number') return w * by;
  if (Array.isArray(w) && w.every((x) => typeof x === 'number')) return (w as number[]).map((x) => x * by);
  throw new RecipeError(
    field,
    'with a sens block, a weight is a number or a gradient list (the per-layer filters are its own)',
  );
}

/**
 * The statistics the recipe names, by model, in the block's order. `stats` maps a statistics file
 * name (as the recipe writes it) to its parsed contents; `sources`, when given, are the checkpoints
 * each file is checked against.
 */
export function sensInputs(
  recipe: Recipe,
  stats: ReadonlyMap<string, SensStats>,
  sources?: ReadonlyMap<string, Checkpoint>,
): SensInput[] {
  const block = recipe.sens;
  if (!block) return [];
  return Object.entries(block.statistics).map(([model, file]) => {
    const s = stats.get(file);
    if (!s)
      throw new RecipeError(
        `sens.statistics.${model}`,
        `no statistics loaded for '${file}': compute them (merge-lab sensitivity, or the page's calibration) or import the file`,
      );
    const ckpt = sources?.get(model);
    if (ckpt) checkStatsFor(s, file, sensModelInfo(ckpt));
    return { model, file, stats: s };
  });
}

/** The compiled recipe and its coefficients; the recipe itself when it has no `sens` block. */
export function compileSens(
  recipe: Recipe,
  stats: ReadonlyMap<string, SensStats>,
  sources?: ReadonlyMap<string, Checkpoint>,
): CompiledSens {
  const lambda = typeof recipe.parameters.lambda === 'number' ? recipe.parameters.lambda : 1;
  const block = recipe.sens;
  if (!block && recipe.mergeMethod === SENS_METHOD) throw new RecipeError('sens', SENS_NEEDS_BLOCK);
  if (!block) return { recipe, coefficients: { models: [], groups: [], alpha: [], tau: [], weight: [] }, lambda };
  const base = recipe.baseModel;
  if (!base) throw new RecipeError('base_model', 'a sens block needs a base_model');
  if (recipe.parameters.normalize === true)
    throw new RecipeError(
      'parameters.normalize',
      'with a sens block nothing is renormalised by Σw (it would undo the coefficients)',
    );
  const inputs = sensInputs(recipe, stats, sources);
  if (inputs.length === 0)
    throw new RecipeError('sens.statistics', 'no statistics: calibrate or import a statistics file for each model');
  const listed = new Set(recipe.models.map((m) => m.model));
  for (const { model } of inputs)
    if (model !== base && !listed.has(model))
      throw new RecipeError(`sens.statistics.${model}`, `'${model}' is neither the base_model nor one of the models`);
  const coefficients = sensCoefficients(inputs, block);
  const { groups, models } = coefficients;
  const embed = groups.indexOf('model.embed_tokens');
  const { weight: globalWeight, ...globals } = recipe.parameters;
  const compiledModels = recipe.models.map((entry, i) => {
    if (entry.model === base) return entry;
    const k = models.indexOf(entry.model);
    if (k < 0) throw new RecipeError('sens.statistics', `no statistics for model '${entry.model}'`);
    const w0 = entry.parameters.weight ?? globalWeight ?? 1;
    const field = `models[${i}].parameters.weight`;
    const filters: ConditionalSetting[] = groups.map((g, l) => ({
      filter: groupFilter(g),
      value: scaled(w0, coefficients.weight[k]![l]!, field),
    }));
    // A tied model's statistics count the head under the embedding: a materialised lm_head takes its coefficient.
    if (!groups.includes('lm_head') && embed >= 0) filters.push({ filter: 'lm_head.', value: filters[embed]!.value });
    return { ...entry, parameters: { ...entry.parameters, weight: filters } };
  });
  const { sens: _sens, ...rest } = recipe;
  return {
    recipe: {
      ...rest,
      mergeMethod: recipe.mergeMethod === SENS_METHOD ? 'task_arithmetic' : recipe.mergeMethod,
      models: compiledModels,
      parameters: { ...globals, normalize: false },
    },
    coefficients,
    lambda,
  };
}

/** Per layer group, the coefficient λ·w each model's task vector gets (what a chart draws). */
export function layerCoefficients(c: CompiledSens): { group: string; values: number[] }[] {
  return c.coefficients.groups.map((group, l) => ({
    group,
    values: c.coefficients.models.map((_, i) => c.lambda * c.coefficients.weight[i]![l]!),
  }));
}

/** The per-layer coefficients as text: one row per group, c = λ·w per model (what the merge applies). */
export function describeCoefficients(c: SensCoefficients, lambda: number): string {
  const head = ['layer', ...c.models.map((m) => `λ·w ${m}`), ...c.models.map((m) => `α ${m}`)];
  const rows = c.groups.map((g, l) => [
    g + (isBlockGroup(g) ? '' : ' '),
    ...c.models.map((_, i) => (lambda * c.weight[i]![l]!).toFixed(4)),
    ...c.models.map((_, i) => c.alpha[i]![l]?.toFixed(4) ?? '—'),
  ]);
  const tau = `τ: ${c.models.map((m, i) => `${m} ${c.tau[i]!.toFixed(4)}`).join(', ')}`;
  return [head, ...rows].map((r) => r.join('\t')).join('\n') + `\n${tau}`;
}

/** The compiled recipe for mergekit, with a header saying what it was compiled from and how. */
export function sensExportNotes(original: Recipe, c: CompiledSens): string[] {
  const s = original.sens;
  if (!s) return [];
  const files = Object.entries(s.statistics).map(([m, f]) => `${m}: ${f}`);
  return [
    `Compiled by Merge Lab from a ${original.mergeMethod} recipe with a sens block (Sens-Merging, arXiv 2502.12420): ` +
      'mergekit has no Sens-Merging, so each model weight below is the per-layer coefficient w·K·σ^l as tensor-name filters.',
    `Statistics: ${files.join(', ')}. T=${s.temperature}, sensitivity=${s.sensitivity}, cross_task=${s.crossTask}, grouping=${s.grouping}.`,
    `mergekit runs this ${c.recipe.mergeMethod} recipe as written and computes the same merge; to change T or the readings, recompile in Merge Lab.`,
  ];
}
