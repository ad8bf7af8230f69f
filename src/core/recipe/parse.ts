/**
 * mergekit YAML → Recipe, with validation errors that name the offending field. What each method
 * accepts comes from the method rows and the parameter table (src/core/merge/methods/); the way
 * back to YAML, and what mergekit would make of it, is in mergekit.ts.
 */
import YAML from 'yaml';
import { RECIPE_DTYPE } from '../dtype';
import { RecipeError } from '../errors';
import { preview } from '../formats/preview';
import {
  AIM_OMEGA,
  PARAMETERS,
  type ParameterDef,
  type ParameterName,
  isParameterName,
} from '../merge/methods/parameters';
import { METHODS, type MethodSpec } from '../merge/methods/registry';
import { RECIPE_KEYS, SURGERY_KEYS } from './keys';
import { parseSensSettings } from '../sens/settings';
import { parseSlices } from './slices';
import { closestName } from './suggest';
import {
  type AimSettings,
  type ConditionalSetting,
  DEFAULT_SEED,
  MERGE_METHODS,
  type MergeMethodName,
  type Recipe,
  type RecipeModel,
  type RecipeWarning,
  type Setting,
} from './types';

export {
  COMPUTE_DTYPE_NOTE,
  emitRecipe,
  exportRecipe,
  mergekitWarnings,
  recipeToObject,
  runsUnchangedInMergekit,
} from './mergekit';

export interface ParsedRecipe {
  readonly recipe: Recipe;
  /** Non-fatal notes, e.g. keys mergekit accepts that Merge Lab ignores. */
  readonly warnings: readonly RecipeWarning[];
}

const TOP_LEVEL_KEYS = RECIPE_KEYS.map((k) => k.key);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseSetting(v: unknown, field: string): Setting {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length === 0) throw new RecipeError(field, 'an empty list is not a valid setting');
    if (v.every((e) => typeof e === 'number')) return v as number[];
    return v.map((c, i): ConditionalSetting => {
      const f = `${field}[${i}]`;
      if (!isRecord(c) || !('value' in c)) throw new RecipeError(f, 'expected a number (gradient) or {filter, value}');
      if (c.filter !== undefined && typeof c.filter !== 'string')
        throw new RecipeError(`${f}.filter`, 'must be a string');
      const value = parseSetting(c.value, `${f}.value`);
      if (Array.isArray(value) && !value.every((e) => typeof e === 'number'))
        throw new RecipeError(`${f}.value`, 'filters cannot nest');
      return c.filter === undefined
        ? { value: value as ConditionalSetting['value'] }
        : { filter: c.filter, value: value as ConditionalSetting['value'] };
    });
  }
  throw new RecipeError(field, `expected a number, boolean, gradient list or filter list, got ${preview(v)}`);
}

/** Checks that every value a setting can produce is a number within [min, max]. */
function checkNumeric(s: Setting, field: string, min: number, max: number): void {
  const values: unknown[] = Array.isArray(s)
    ? s.flatMap((e) => (typeof e === 'number' ? [e] : Array.isArray(e.value) ? e.value : [e.value]))
    : [s];
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new RecipeError(field, `must be a number, got ${preview(v)}`);
    if (v < min || v > max) throw new RecipeError(field, `${v} is outside [${min}, ${max}]`);
  }
}

/** True when a numeric setting holds a fraction where a whole number is needed. */
function hasFraction(s: Setting): boolean {
  if (typeof s === 'number') return !Number.isInteger(s);
  // Gradient entries and scalar filter values are checked; a gradient inside a filter is not.
  return (
    Array.isArray(s) &&
    s.some((e) =>
      typeof e === 'number' ? !Number.isInteger(e) : typeof e.value === 'number' && !Number.isInteger(e.value),
    )
  );
}

/** What the parser says about a key the method does not read: mergekit ignores such keys, so it warns. */
function unusedParameter(f: string, key: string, method: string, scope: 'model' | 'global'): RecipeWarning {
  if (!isParameterName(key)) {
    const guess = closestName(key, Object.keys(PARAMETERS));
    const hint = guess ? `; did you mean '${guess}'?` : '.';
    return {
      code: 'unknown-parameter',
      field: f,
      message: `${f}: '${key}' is not a parameter of any method${hint} It is ignored (mergekit ignores it too)`,
      ...(guess ? { suggestion: guess } : {}),
    };
  }
  const where =
    PARAMETERS[key].scope === 'global' && scope === 'model'
      ? `is not a per-model parameter of ${method} (set it under the top-level parameters)`
      : `is not used by ${method}`;
  return { code: 'unused-parameter', field: f, message: `${f}: '${key}' ${where}; ignored (mergekit ignores it too)` };
}

function parseParameters(
  v: unknown,
  field: string,
  spec: MethodSpec,
  scope: 'model' | 'global',
  warnings: RecipeWarning[],
): Record<string, Setting> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new RecipeError(field, 'must be a mapping of parameter names to values');
  const allowed: readonly ParameterName[] =
    scope === 'model' ? spec.modelParameters : [...spec.globalParameters, ...spec.modelParameters];
  const out: Record<string, Setting> = {};
  for (const [k, raw] of Object.entries(v)) {
    const f = `${field}.${k}`;
    const def: ParameterDef | undefined = isParameterName(k) ? PARAMETERS[k] : undefined;
    if (def?.labIgnores) {
      warnings.push({ code: 'lab-ignores-key', field: f, message: `${f} is ${def.labIgnores}; Merge Lab ignores it` });
      continue;
    }
    if (!def || !allowed.includes(k as ParameterName)) {
      warnings.push(unusedParameter(f, k, spec.name, scope));
      continue;
    }
    const s = parseSetting(raw, f);
    if (def.type === 'boolean') {
      if (typeof s !== 'boolean') throw new RecipeError(f, 'must be true or false');
    } else checkNumeric(s, f, ...(def.range ?? [-Infinity, Infinity]));
    if (def.type === 'integer' && hasFraction(s)) throw new RecipeError(f, 'must be a whole number');
    if (spec.parameters[k as ParameterName]?.inert)
      warnings.push({
        code: 'unused-parameter',
        field: f,
        message: `${f}: '${k}' has no effect in ${spec.name} (mergekit accepts and ignores it too)`,
      });
    out[k] = s;
  }
  return out;
}

function modelRef(v: unknown, field: string): string {
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (isRecord(v) && typeof v.model === 'string') return v.model; // mergekit's {model: ..., lora: ...}
  throw new RecipeError(field, 'must be a model name or path');
}

export function parseRecipeObject(doc: unknown): ParsedRecipe {
  const warnings: RecipeWarning[] = [];
  if (!isRecord(doc)) throw new RecipeError('(root)', 'a recipe must be a YAML mapping');
  for (const k of Object.keys(doc)) {
    if (SURGERY_KEYS.includes(k))
      throw new RecipeError(k, `'${k}' (layer surgery) is not supported; list whole models under 'models'`);
    if (!TOP_LEVEL_KEYS.includes(k)) throw new RecipeError(k, `unknown key (known: ${TOP_LEVEL_KEYS.join(', ')})`);
  }
  const m = doc.merge_method;
  if (typeof m !== 'string' || !(MERGE_METHODS as readonly string[]).includes(m))
    throw new RecipeError('merge_method', `${preview(m)} is not supported; choose one of ${MERGE_METHODS.join(', ')}`);
  const spec = METHODS[m as MergeMethodName];
  const baseModel =
    doc.base_model === undefined || doc.base_model === null ? undefined : modelRef(doc.base_model, 'base_model');

  const slices =
    doc.slices === undefined
      ? undefined
      : parseSlices(doc.slices, m, (raw, field) => parseParameters(raw, field, spec, 'model', warnings));
  if (slices && doc.models !== undefined) throw new RecipeError('models', 'give either slices or models, not both');
  const listed = slices ? [...new Set(slices.map((s) => s.model))].map((model) => ({ model })) : doc.models;
  if (!Array.isArray(listed) || listed.length === 0) throw new RecipeError('models', 'must list at least one model');
  const models: RecipeModel[] = listed.map((entry, i) => {
    const f = `models[${i}]`;
    if (!isRecord(entry)) throw new RecipeError(f, 'must be a mapping with a `model` key');
    const model = modelRef(entry.model, `${f}.model`);
    const parameters = parseParameters(entry.parameters, `${f}.parameters`, spec, 'model', warnings);
    return { model, parameters };
  });
  const parameters = parseParameters(doc.parameters, 'parameters', spec, 'global', warnings);

  if (spec.needsBase && !baseModel) throw new RecipeError('base_model', `${m} needs a base_model`);
  const others = models.filter((x) => x.model !== baseModel);
  if (spec.family === 'slerp') {
    if (others.length !== 1)
      throw new RecipeError(
        'models',
        `slerp merges exactly two models: the base_model and one other (got ${others.length} others)`,
      );
    if (parameters.t === undefined) throw new RecipeError('parameters.t', 'slerp needs t');
  }
  if (spec.family !== 'slerp') {
    // A required weight (no default: linear and the task-vector family) is needed by every model but the base.
    if (spec.parameters.weight?.required)
      models.forEach((x, i) => {
        if (x.model === baseModel && spec.family !== 'linear') return;
        if (x.parameters.weight === undefined && parameters.weight === undefined)
          throw new RecipeError(`models[${i}].parameters.weight`, `${m} needs a weight for every model`);
      });
    if ((spec.family === 'task_vector' || spec.family === 'svd' || spec.family === 'tensor') && others.length === 0)
      throw new RecipeError('models', `${m} needs at least one model besides the base_model`);
    for (const n of spec.globalParameters)
      if (spec.parameters[n]?.required && parameters[n] === undefined)
        throw new RecipeError(`parameters.${n}`, `${m} needs ${n}`);
    const { min = 0, max = Infinity } = slices ? {} : (spec.others ?? {});
    if (others.length < min || others.length > max)
      throw new RecipeError(
        'models',
        `${m} merges ${max === min ? `exactly ${min}` : `at least ${min}`} models besides the base_model (got ${others.length})`,
      );
  }
  const seen = new Set<string>();
  models.forEach((x, i) => {
    if (seen.has(x.model)) throw new RecipeError(`models[${i}].model`, `'${x.model}' is listed twice`);
    seen.add(x.model);
  });

  const dtypeRaw = doc.out_dtype ?? doc.dtype;
  let dtype: Recipe['dtype'];
  if (dtypeRaw !== undefined && dtypeRaw !== null) {
    const d =
      typeof dtypeRaw === 'string' && Object.hasOwn(RECIPE_DTYPE, dtypeRaw) ? RECIPE_DTYPE[dtypeRaw] : undefined;
    if (!d)
      throw new RecipeError(
        doc.out_dtype !== undefined ? 'out_dtype' : 'dtype',
        `${preview(dtypeRaw)} is not one of ${Object.keys(RECIPE_DTYPE).join(', ')}`,
      );
    dtype = d;
  }
  let tokenizerSource: string | undefined;
  if (doc.tokenizer_source !== undefined && doc.tokenizer_source !== null) {
    if (typeof doc.tokenizer_source !== 'string')
      throw new RecipeError('tokenizer_source', "must be 'base' or a model name");
    if (doc.tokenizer_source === 'union')
      throw new RecipeError(
        'tokenizer_source',
        "'union' needs vocabulary surgery, which Merge Lab does not do; use 'base' or a model name",
      );
    tokenizerSource = doc.tokenizer_source;
  }
  const seed = doc.random_seed ?? DEFAULT_SEED;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RecipeError('random_seed', 'must be an integer in [0, 2^32)');
  const vp = doc.vocab_policy ?? 'error';
  if (vp !== 'error' && vp !== 'base') throw new RecipeError('vocab_policy', "must be 'error' or 'base'");

  let aim: AimSettings | undefined;
  if (doc.aim !== undefined && doc.aim !== null) {
    if (!isRecord(doc.aim))
      throw new RecipeError('aim', 'must be a mapping such as {omega: 0.4, calibration: stats.json}');
    for (const k of Object.keys(doc.aim))
      if (k !== 'omega' && k !== 'calibration')
        throw new RecipeError(`aim.${k}`, 'unknown key (known: omega, calibration)');
    const omega = doc.aim.omega ?? AIM_OMEGA.default;
    const [lo, hi] = AIM_OMEGA.range!;
    if (typeof omega !== 'number' || !(omega >= lo && omega <= hi))
      throw new RecipeError('aim.omega', `must be a number in [${lo}, ${hi}], got ${preview(omega)}`);
    if (typeof doc.aim.calibration !== 'string' || !doc.aim.calibration)
      throw new RecipeError('aim.calibration', 'must name the activation statistics file or calibration set');
    if (!spec.needsBase)
      throw new RecipeError(
        'aim',
        `AIM scales the merged task vector against θ₀, so it needs a method with a base_model (${m} has none)`,
      );
    aim = { omega, calibration: doc.aim.calibration };
  }

  const sens = parseSensSettings(doc.sens, m);
  return {
    recipe: {
      mergeMethod: m as MergeMethodName,
      ...(slices ? { slices } : {}),
      ...(baseModel !== undefined ? { baseModel } : {}),
      models,
      parameters,
      ...(dtype ? { dtype } : {}),
      ...(tokenizerSource ? { tokenizerSource } : {}),
      randomSeed: seed,
      vocabPolicy: vp,
      ...(aim ? { aim } : {}),
      ...(sens ? { sens } : {}),
    },
    warnings,
  };
}

export function parseRecipe(yamlText: string): ParsedRecipe {
  let doc: unknown;
  try {
    doc = YAML.parse(yamlText);
  } catch (e) {
    throw new RecipeError('(yaml)', `not valid YAML: ${(e as Error).message}`);
  }
  return parseRecipeObject(doc);
}
