/** mergekit YAML ↔ Recipe, with validation errors that name the offending field. */
import YAML from 'yaml';
import { RECIPE_DTYPE, recipeDTypeName } from '../dtype';
import { RecipeError } from '../errors';
import { METHODS } from '../merge/methods/registry';
import { type AimSettings, type ConditionalSetting, DEFAULT_AIM_OMEGA, DEFAULT_SEED, MERGE_METHODS, type MergeMethodName, type Recipe, type RecipeModel, type Setting } from './types';

export interface ParsedRecipe {
  readonly recipe: Recipe;
  /** Non-fatal notes, e.g. keys mergekit accepts that Merge Lab ignores. */
  readonly warnings: readonly string[];
}

const TOP_LEVEL_KEYS = ['merge_method', 'base_model', 'models', 'parameters', 'dtype', 'out_dtype', 'tokenizer_source', 'random_seed', 'vocab_policy', 'aim', 'name'];
const IGNORED_KEYS = ['int8_mask'];

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
      if (c.filter !== undefined && typeof c.filter !== 'string') throw new RecipeError(`${f}.filter`, 'must be a string');
      const value = parseSetting(c.value, `${f}.value`);
      if (Array.isArray(value) && !value.every((e) => typeof e === 'number')) throw new RecipeError(`${f}.value`, 'filters cannot nest');
      return c.filter === undefined ? { value: value as ConditionalSetting['value'] } : { filter: c.filter, value: value as ConditionalSetting['value'] };
    });
  }
  throw new RecipeError(field, `expected a number, boolean, gradient list or filter list, got ${JSON.stringify(v)}`);
}

/** Checks that every value a setting can produce is a number within [min, max]. */
function checkNumeric(s: Setting, field: string, min: number, max: number): void {
  const values: unknown[] = Array.isArray(s) ? s.flatMap((e) => (typeof e === 'number' ? [e] : Array.isArray(e.value) ? e.value : [e.value])) : [s];
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RecipeError(field, `must be a number, got ${JSON.stringify(v)}`);
    if (v < min || v > max) throw new RecipeError(field, `${v} is outside [${min}, ${max}]`);
  }
}

const RANGES: Record<string, [number, number]> = {
  weight: [-1e6, 1e6], density: [0, 1], gamma: [0, 1], lambda: [-1e6, 1e6], t: [0, 1],
  // SVD family (methods/registry.ts documents each)
  rank: [1, 1e6], energy: [1e-6, 1], mu: [0, 1], common_fraction: [0, 1], iterations: [1, 100], oversample: [0, 1024], power_iters: [0, 32],
};
const INTEGER_KEYS = ['rank', 'iterations', 'oversample', 'power_iters'];

function parseParameters(v: unknown, field: string, allowed: readonly string[], method: string, warnings: string[]): Record<string, Setting> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new RecipeError(field, 'must be a mapping of parameter names to values');
  const out: Record<string, Setting> = {};
  for (const [k, raw] of Object.entries(v)) {
    const f = `${field}.${k}`;
    if (IGNORED_KEYS.includes(k)) {
      warnings.push(`${f} is a mergekit memory option; Merge Lab ignores it`);
      continue;
    }
    if (!allowed.includes(k)) throw new RecipeError(f, `'${k}' is not a parameter of ${method} (allowed: ${allowed.join(', ') || 'none'})`);
    const s = parseSetting(raw, f);
    if (k === 'normalize' || k === 'rescale') {
      if (typeof s !== 'boolean') throw new RecipeError(f, 'must be true or false');
    } else checkNumeric(s, f, ...(RANGES[k] ?? [-Infinity, Infinity]));
    if (INTEGER_KEYS.includes(k) && (typeof s === 'number' ? !Number.isInteger(s) : Array.isArray(s) && s.some((e) => typeof e === 'number' ? !Number.isInteger(e) : typeof e.value === 'number' && !Number.isInteger(e.value))))
      throw new RecipeError(f, 'must be a whole number');
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
  const warnings: string[] = [];
  if (!isRecord(doc)) throw new RecipeError('(root)', 'a recipe must be a YAML mapping');
  for (const k of Object.keys(doc)) {
    if (k === 'slices' || k === 'modules') throw new RecipeError(k, `'${k}' (layer surgery) is not supported; list whole models under 'models'`);
    if (!TOP_LEVEL_KEYS.includes(k)) throw new RecipeError(k, `unknown key (known: ${TOP_LEVEL_KEYS.join(', ')})`);
  }
  const m = doc.merge_method;
  if (typeof m !== 'string' || !(MERGE_METHODS as readonly string[]).includes(m))
    throw new RecipeError('merge_method', `${JSON.stringify(m)} is not supported; choose one of ${MERGE_METHODS.join(', ')}`);
  const spec = METHODS[m as MergeMethodName];
  const baseModel = doc.base_model === undefined || doc.base_model === null ? undefined : modelRef(doc.base_model, 'base_model');

  if (!Array.isArray(doc.models) || doc.models.length === 0) throw new RecipeError('models', 'must list at least one model');
  const models: RecipeModel[] = doc.models.map((entry, i) => {
    const f = `models[${i}]`;
    if (!isRecord(entry)) throw new RecipeError(f, 'must be a mapping with a `model` key');
    const model = modelRef(entry.model, `${f}.model`);
    const parameters = parseParameters(entry.parameters, `${f}.parameters`, spec.modelParameters, m, warnings);
    return { model, parameters };
  });
  const parameters = parseParameters(doc.parameters, 'parameters', [...spec.globalParameters, ...spec.modelParameters], m, warnings);

  if (spec.needsBase && !baseModel) throw new RecipeError('base_model', `${m} needs a base_model`);
  const others = models.filter((x) => x.model !== baseModel);
  if (spec.family === 'slerp') {
    if (others.length !== 1) throw new RecipeError('models', `slerp merges exactly two models: the base_model and one other (got ${others.length} others)`);
    if (parameters.t === undefined) throw new RecipeError('parameters.t', 'slerp needs t');
  }
  if (spec.family !== 'slerp') {
    models.forEach((x, i) => {
      if (x.model === baseModel && (spec.family === 'task_vector' || spec.family === 'svd')) return;
      if (spec.family === 'svd') return; // SVD merges: weight defaults to 1
      if (x.parameters.weight === undefined && parameters.weight === undefined)
        throw new RecipeError(`models[${i}].parameters.weight`, `${m} needs a weight for every model`);
    });
    if ((spec.family === 'task_vector' || spec.family === 'svd') && others.length === 0) throw new RecipeError('models', `${m} needs at least one model besides the base_model`);
  }
  const seen = new Set<string>();
  models.forEach((x, i) => {
    if (seen.has(x.model)) throw new RecipeError(`models[${i}].model`, `'${x.model}' is listed twice`);
    seen.add(x.model);
  });

  const dtypeRaw = doc.out_dtype ?? doc.dtype;
  let dtype: Recipe['dtype'];
  if (dtypeRaw !== undefined && dtypeRaw !== null) {
    const d = RECIPE_DTYPE[String(dtypeRaw)];
    if (!d) throw new RecipeError(doc.out_dtype !== undefined ? 'out_dtype' : 'dtype', `${JSON.stringify(dtypeRaw)} is not one of ${Object.keys(RECIPE_DTYPE).join(', ')}`);
    dtype = d;
  }
  let tokenizerSource: string | undefined;
  if (doc.tokenizer_source !== undefined && doc.tokenizer_source !== null) {
    if (typeof doc.tokenizer_source !== 'string') throw new RecipeError('tokenizer_source', "must be 'base' or a model name");
    if (doc.tokenizer_source === 'union') throw new RecipeError('tokenizer_source', "'union' needs vocabulary surgery, which Merge Lab does not do; use 'base' or a model name");
    tokenizerSource = doc.tokenizer_source;
  }
  const seed = doc.random_seed ?? DEFAULT_SEED;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RecipeError('random_seed', 'must be an integer in [0, 2^32)');
  const vp = doc.vocab_policy ?? 'error';
  if (vp !== 'error' && vp !== 'base') throw new RecipeError('vocab_policy', "must be 'error' or 'base'");

  let aim: AimSettings | undefined;
  if (doc.aim !== undefined && doc.aim !== null) {
    if (!isRecord(doc.aim)) throw new RecipeError('aim', 'must be a mapping such as {omega: 0.4, calibration: stats.json}');
    for (const k of Object.keys(doc.aim)) if (k !== 'omega' && k !== 'calibration') throw new RecipeError(`aim.${k}`, "unknown key (known: omega, calibration)");
    const omega = doc.aim.omega ?? DEFAULT_AIM_OMEGA;
    if (typeof omega !== 'number' || !(omega >= 0 && omega <= 1)) throw new RecipeError('aim.omega', `must be a number in [0, 1], got ${JSON.stringify(omega)}`);
    if (typeof doc.aim.calibration !== 'string' || !doc.aim.calibration) throw new RecipeError('aim.calibration', 'must name the activation statistics file or calibration set');
    if (!spec.needsBase) throw new RecipeError('aim', `AIM scales the merged task vector against θ₀, so it needs a method with a base_model (${m} has none)`);
    aim = { omega, calibration: doc.aim.calibration };
  }

  return {
    recipe: {
      mergeMethod: m as MergeMethodName,
      ...(baseModel !== undefined ? { baseModel } : {}),
      models,
      parameters,
      ...(dtype ? { dtype } : {}),
      ...(tokenizerSource ? { tokenizerSource } : {}),
      randomSeed: seed,
      vocabPolicy: vp,
      ...(aim ? { aim } : {}),
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

/** The recipe as a plain object in mergekit's schema (extensions only when not default). */
export function recipeToObject(r: Recipe): Record<string, unknown> {
  const out: Record<string, unknown> = { merge_method: r.mergeMethod };
  if (r.baseModel) out.base_model = r.baseModel;
  out.models = r.models.map((m) => (Object.keys(m.parameters).length ? { model: m.model, parameters: { ...m.parameters } } : { model: m.model }));
  if (Object.keys(r.parameters).length) out.parameters = { ...r.parameters };
  if (r.dtype) out.dtype = recipeDTypeName(r.dtype);
  if (r.tokenizerSource) out.tokenizer_source = r.tokenizerSource;
  if (r.randomSeed !== DEFAULT_SEED) out.random_seed = r.randomSeed;
  if (r.vocabPolicy !== 'error') out.vocab_policy = r.vocabPolicy;
  if (r.aim) out.aim = { omega: r.aim.omega, calibration: r.aim.calibration };
  return out;
}

/** What mergekit will do differently with this recipe, in plain words (shown on export). */
export function mergekitWarnings(r: Recipe): string[] {
  const w: string[] = [];
  if (r.aim) w.push('aim: mergekit cannot apply activation-informed merging (AIM); it ignores this key and produces the plain merge');
  if (r.vocabPolicy !== 'error') w.push("vocab_policy is a Merge Lab extension; mergekit resolves embedding sizes with its own tokenizer settings");
  if (r.randomSeed !== DEFAULT_SEED && (r.mergeMethod === 'dare_linear' || r.mergeMethod === 'dare_ties'))
    w.push('random_seed: pass it to mergekit as --random-seed; its DARE masks come from torch, so they differ from Merge Lab\'s');
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
