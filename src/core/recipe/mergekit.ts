/**
 * Recipe → mergekit YAML, and what mergekit will do differently with it: the method and parameter
 * tables say which methods and keys mergekit knows; the top-level extensions, DARE's masks and the
 * compute dtype are named here. The one deliberate difference: Merge Lab computes every merge in
 * float32 and rounds once to the output dtype, where mergekit computes in the recipe's dtype.
 */
import YAML from 'yaml';
import { type DType, recipeDTypeName } from '../dtype';
import { PARAMETERS, isParameterName } from '../merge/methods/parameters';
import { METHODS } from '../merge/methods/registry';
import { SENS_MERGEKIT_NOTE, sensSettingsToObject } from '../sens/settings';
import { DEFAULT_SEED, type Recipe, type RecipeWarning, type RecipeWarningCode } from './types';

/** The recipe as a plain object in mergekit's schema (extensions only when not default). */
export function recipeToObject(r: Recipe): Record<string, unknown> {
  const out: Record<string, unknown> = { merge_method: r.mergeMethod };
  if (r.baseModel) out.base_model = r.baseModel;
  if (r.slices)
    out.slices = r.slices.map((s) => ({
      sources: [
        {
          model: s.model,
          layer_range: [...s.layerRange],
          ...(Object.keys(s.parameters).length ? { parameters: { ...s.parameters } } : {}),
        },
      ],
    }));
  else
    out.models = r.models.map((m) =>
      Object.keys(m.parameters).length ? { model: m.model, parameters: { ...m.parameters } } : { model: m.model },
    );
  if (Object.keys(r.parameters).length) out.parameters = { ...r.parameters };
  if (r.dtype) out.dtype = recipeDTypeName(r.dtype);
  if (r.tokenizerSource) out.tokenizer_source = r.tokenizerSource;
  if (r.randomSeed !== DEFAULT_SEED) out.random_seed = r.randomSeed;
  if (r.vocabPolicy !== 'error') out.vocab_policy = r.vocabPolicy;
  if (r.aim) out.aim = { omega: r.aim.omega, calibration: r.aim.calibration };
  if (r.sens) out.sens = sensSettingsToObject(r.sens);
  return out;
}

/** Every parameter key the recipe sets, with its dotted field. */
function parameterFields(r: Recipe): [field: string, key: string][] {
  return [
    ...r.models.flatMap((m, i) =>
      Object.keys(m.parameters).map((k): [string, string] => [`models[${i}].parameters.${k}`, k]),
    ),
    ...Object.keys(r.parameters).map((k): [string, string] => [`parameters.${k}`, k]),
  ];
}

/**
 * What mergekit will do differently with this recipe, in plain words (shown on export).
 * `baseDtype`: the base model's stored dtype, which mergekit computes in when the recipe names none.
 */
export function mergekitWarnings(r: Recipe, { baseDtype }: { baseDtype?: DType } = {}): RecipeWarning[] {
  const w: RecipeWarning[] = [];
  const warn = (code: RecipeWarningCode, field: string, message: string) => w.push({ code, field, message });
  const spec = METHODS[r.mergeMethod];
  if (!spec.mergekit)
    warn(
      'mergekit-lacks-method',
      'merge_method',
      `merge_method: ${r.mergeMethod} is a Merge Lab extension; mergekit does not have it`,
    );
  else
    for (const [field, key] of parameterFields(r))
      if (isParameterName(key) && !PARAMETERS[key].mergekit)
        warn('mergekit-ignores-key', field, `${field} is a Merge Lab extension; mergekit ignores it`);
  if (r.aim)
    warn(
      'mergekit-ignores-key',
      'aim',
      'aim: mergekit cannot apply activation-informed merging (AIM); ' +
        'it ignores this key and produces the plain merge',
    );
  if (r.sens) warn('mergekit-ignores-key', 'sens', SENS_MERGEKIT_NOTE);
  if (r.vocabPolicy !== 'error')
    warn(
      'mergekit-ignores-key',
      'vocab_policy',
      'vocab_policy is a Merge Lab extension; ' + 'mergekit resolves embedding sizes with its own tokenizer settings',
    );
  if (spec.sparsification === 'random' || spec.sparsification === 'della')
    warn(
      'mergekit-differs',
      'random_seed',
      (r.randomSeed !== DEFAULT_SEED ? 'random_seed: pass it to mergekit as --random-seed; ' : 'random_seed: ') +
        (spec.sparsification === 'della'
          ? "mergekit's DELLA masks come from torch, so they differ from Merge Lab's (the same probabilities, other elements)"
          : "mergekit's DARE masks come from torch, so they differ from Merge Lab's (the same density, other elements)"),
    );
  if (spec.sparsification === 'magnitude_outliers' && settingValues(r, 'gamma').includes(0))
    warn(
      'mergekit-differs',
      'gamma',
      'gamma: 0 makes mergekit keep nothing of the task vector (its slice indices[n_bot:-0] is empty); ' +
        'Merge Lab keeps the top `density` fraction',
    );
  const computeDtype = r.dtype ?? baseDtype;
  if (computeDtype === 'BF16' || computeDtype === 'F16')
    warn(
      'mergekit-differs',
      'dtype',
      r.dtype
        ? `dtype: ${COMPUTE_DTYPE_NOTE}`
        : `dtype (none: the base model's ${computeDtype}): ${COMPUTE_DTYPE_NOTE}`,
    );
  return w;
}

/** The compute-dtype difference, in words (README, export header, warnings). */
export const COMPUTE_DTYPE_NOTE =
  'mergekit computes in the recipe dtype (16-bit arithmetic for bfloat16/float16); ' +
  'Merge Lab computes in float32 and rounds once to it, so 16-bit outputs differ by rounding';

/** True when mergekit, given this recipe, computes what Merge Lab computes (up to float rounding). */
export function runsUnchangedInMergekit(r: Recipe, opts: { baseDtype?: DType } = {}): boolean {
  return mergekitWarnings(r, opts).length === 0;
}

/** Every value a parameter takes in the recipe (per model and top level, gradients and filters flattened). */
function settingValues(r: Recipe, key: string): unknown[] {
  const flat = (s: unknown): unknown[] =>
    Array.isArray(s)
      ? s.flatMap((e) => (typeof e === 'object' && e !== null ? flat((e as { value: unknown }).value) : [e]))
      : [s];
  return [...r.models.map((m) => m.parameters[key]), r.parameters[key]].filter((v) => v !== undefined).flatMap(flat);
}

/**
 * The recipe as a file for mergekit: a comment header with what mergekit will do differently (the
 * compute dtype always: mergekit reads 16-bit inputs in their dtype even without `dtype`), then the YAML.
 */
export function exportRecipe(r: Recipe): string {
  const notes = [
    'Exported from Merge Lab for mergekit.',
    `Compute dtype: ${COMPUTE_DTYPE_NOTE}.`,
    ...mergekitWarnings(r)
      .filter((x) => x.field !== 'dtype')
      .map((x) => x.message),
  ];
  return notes.map((n) => `# ${n}\n`).join('') + emitRecipe(r);
}

export function emitRecipe(r: Recipe): string {
  const doc = new YAML.Document(recipeToObject(r));
  // Gradient lists read best inline, as mergekit writes them.
  YAML.visit(doc, {
    Seq(_, node) {
      if (node.items.every((i) => YAML.isScalar(i) && typeof i.value === 'number')) node.flow = true;
    },
  });
  return doc.toString();
}
