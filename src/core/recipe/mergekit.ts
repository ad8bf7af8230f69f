/**
 * Recipe → mergekit YAML, and what mergekit will do differently with it: the method and parameter
 * tables say which methods and keys mergekit knows; the top-level extensions are named here.
 */
import YAML from 'yaml';
import { recipeDTypeName } from '../dtype';
import { PARAMETERS, isParameterName } from '../merge/methods/parameters';
import { METHODS } from '../merge/methods/registry';
import { DEFAULT_SEED, type Recipe, type RecipeWarning, type RecipeWarningCode } from './types';

/** The recipe as a plain object in mergekit's schema (extensions only when not default). */
export function recipeToObject(r: Recipe): Record<string, unknown> {
  const out: Record<string, unknown> = { merge_method: r.mergeMethod };
  if (r.baseModel) out.base_model = r.baseModel;
  out.models = r.models.map((m) =>
    Object.keys(m.parameters).length ? { model: m.model, parameters: { ...m.parameters } } : { model: m.model },
  );
  if (Object.keys(r.parameters).length) out.parameters = { ...r.parameters };
  if (r.dtype) out.dtype = recipeDTypeName(r.dtype);
  if (r.tokenizerSource) out.tokenizer_source = r.tokenizerSource;
  if (r.randomSeed !== DEFAULT_SEED) out.random_seed = r.randomSeed;
  if (r.vocabPolicy !== 'error') out.vocab_policy = r.vocabPolicy;
  if (r.aim) out.aim = { omega: r.aim.omega, calibration: r.aim.calibration };
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

/** What mergekit will do differently with this recipe, in plain words (shown on export). */
export function mergekitWarnings(r: Recipe): RecipeWarning[] {
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
  if (r.vocabPolicy !== 'error')
    warn(
      'mergekit-ignores-key',
      'vocab_policy',
      'vocab_policy is a Merge Lab extension; ' + 'mergekit resolves embedding sizes with its own tokenizer settings',
    );
  if (r.randomSeed !== DEFAULT_SEED && spec.sparsification === 'random')
    warn(
      'mergekit-differs',
      'random_seed',
      'random_seed: pass it to mergekit as --random-seed; ' +
        "its DARE masks come from torch, so they differ from Merge Lab's",
    );
  return w;
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
