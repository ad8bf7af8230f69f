/**
 * `merge_method: sens_merging`: task arithmetic whose task vector i is weighted per layer by
 * Sens-Merging's w_i^l (coefficients.ts), λ outside, no renormalisation (reference §1.6). The
 * recipe compiles to a plain mergekit `task_arithmetic` recipe whose per-model `weight` is a list
 * of tensor-name filters, one per layer group, so every backend (CPU, WebGPU) runs it with the
 * existing kernels and mergekit runs the compiled recipe unchanged.
 *
 *   merge_method: sens_merging
 *   base_model: demo-quick
 *   models: [{model: demo-slow}]
 *   parameters: {lambda: 0.4}
 *   sens:
 *     temperature: 3.0
 *     statistics: {demo-slow: slow.short.sens-stats.json, demo-quick: quick.long.sens-stats.json}
 *     sensitivity: elementwise   # or tensorwise
 *     cross_task: distance       # or inverse, uniform
 *     grouping: blocks_and_extras  # or blocks_only
 */
import { RecipeError } from '../errors';
import {
  type CrossTaskReading,
  DEFAULT_SENS_CHOICES,
  type GroupingReading,
  type SensChoices,
  type SensCoefficients,
  type SensInput,
  type SensitivityReading,
  sensCoefficients,
} from './coefficients';
import { isBlockGroup } from './stats';

export const SENS_METHOD = 'sens_merging';

export interface SensBlock {
  readonly choices: SensChoices;
  /** Model reference → statistics file (as written in the recipe). */
  readonly statistics: Readonly<Record<string, string>>;
}

type Doc = Record<string, unknown>;
const isRecord = (x: unknown): x is Doc => !!x && typeof x === 'object' && !Array.isArray(x);

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined || v === null) return fallback;
  if (!allowed.includes(v as T)) throw new RecipeError(field, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** The `sens` block of a sens_merging recipe; undefined for any other method. */
export function readSensBlock(doc: unknown): SensBlock | undefined {
  if (!isRecord(doc) || doc.merge_method !== SENS_METHOD) return undefined;
  const s = doc.sens;
  if (!isRecord(s))
    throw new RecipeError('sens', 'sens_merging needs a `sens` mapping with `statistics` (model → statistics file)');
  const known = ['temperature', 'statistics', 'sensitivity', 'cross_task', 'grouping'];
  for (const k of Object.keys(s))
    if (!known.includes(k)) throw new RecipeError(`sens.${k}`, `unknown key (known: ${known.join(', ')})`);
  const temperature = s.temperature ?? DEFAULT_SENS_CHOICES.temperature;
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature))
    throw new RecipeError('sens.temperature', 'must be a positive number');
  if (!isRecord(s.statistics) || !Object.values(s.statistics).every((f) => typeof f === 'string' && f))
    throw new RecipeError('sens.statistics', 'must map each model to its statistics file (merge-lab sensitivity)');
  return {
    statistics: s.statistics as Record<string, string>,
    choices: {
      temperature,
      sensitivity: oneOf<SensitivityReading>(
        s.sensitivity,
        'sens.sensitivity',
        ['elementwise', 'tensorwise'],
        'elementwise',
      ),
      crossTask: oneOf<CrossTaskReading>(
        s.cross_task,
        'sens.cross_task',
        ['distance', 'inverse', 'uniform'],
        'distance',
      ),
      grouping: oneOf<GroupingReading>(
        s.grouping,
        'sens.grouping',
        ['blocks_and_extras', 'blocks_only'],
        'blocks_and_extras',
      ),
    },
  };
}

/** The tensor-name filter of a layer group (the trailing dot keeps model.layers.1 from matching model.layers.10). */
export const groupFilter = (group: string): string => `${group}.`;

function scaled(w: unknown, by: number, field: string): number | number[] {
  if (typeof w === 'number') return w * by;
  if (Array.isArray(w) && w.every((x) => typeof x === 'number')) return w.map((x: number) => x * by);
  throw new RecipeError(field, 'sens_merging takes a number or a gradient list (the per-layer filters are its own)');
}

/**
 * The task_arithmetic recipe (as a YAML document object) that a sens_merging recipe stands for, and
 * the coefficients it applies. `inputs` holds the statistics named in the `sens` block, in its order.
 */
export function compileSensRecipe(
  doc: Doc,
  block: SensBlock,
  inputs: readonly SensInput[],
): { doc: Doc; coefficients: SensCoefficients } {
  const base = doc.base_model;
  if (typeof base !== 'string') throw new RecipeError('base_model', 'sens_merging needs a base_model');
  if (!Array.isArray(doc.models)) throw new RecipeError('models', 'must be a list');
  const params = isRecord(doc.parameters) ? doc.parameters : {};
  if (params.normalize === true)
    throw new RecipeError(
      'parameters.normalize',
      'sens_merging does not renormalise by Σw (it would undo the coefficients)',
    );
  const coefficients = sensCoefficients(inputs, block.choices);
  const { groups, models } = coefficients;
  const models_ = (doc.models as unknown[]).map((entry, i) => {
    if (!isRecord(entry) || typeof entry.model !== 'string') return entry;
    if (entry.model === base) return entry;
    const k = models.indexOf(entry.model);
    if (k < 0) throw new RecipeError('sens.statistics', `no statistics for model '${entry.model}'`);
    const own = isRecord(entry.parameters) ? entry.parameters : {};
    const w0 = own.weight ?? params.weight ?? 1;
    const filters = groups.map((g, l) => ({
      filter: groupFilter(g),
      value: scaled(w0, coefficients.weight[k]![l]!, `models[${i}].parameters.weight`),
    }));
    // A tied model's statistics count the head under the embedding: a materialised lm_head takes its coefficient.
    const embed = groups.indexOf('model.embed_tokens');
    if (!groups.includes('lm_head') && embed >= 0) filters.push({ filter: 'lm_head.', value: filters[embed]!.value });
    return { ...entry, parameters: { ...own, weight: filters } };
  });
  const others = new Set(
    (doc.models as unknown[]).flatMap((e) => (isRecord(e) && typeof e.model === 'string' ? [e.model] : [])),
  );
  for (const m of models)
    if (m !== base && !others.has(m))
      throw new RecipeError('sens.statistics', `'${m}' is neither the base_model nor one of the models`);
  const { sens: _sens, ...rest } = doc;
  const { weight: _w, ...globalParams } = params;
  return {
    doc: {
      ...rest,
      merge_method: 'task_arithmetic',
      models: models_,
      parameters: { ...globalParams, normalize: false },
    },
    coefficients,
  };
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
