/**
 * Merge planning: which output tensors exist, where each input comes from, and the per-tensor
 * parameters, plus typed warnings about what the plan had to work around. Pure metadata:
 * nothing here reads tensor data.
 */
import type { DType } from '../dtype';
import { type LabWarning, MergeError, RecipeError } from '../errors';
import type { Checkpoint, CheckpointTensor } from '../formats/checkpoint';
import { numel } from '../formats/safetensors';
import { fnv1a, lowbias32 } from '../kernels/rng';
import { evaluateSetting, layerPosition } from '../recipe/resolve';
import type { Recipe, Setting } from '../recipe/types';
import {
  DEFAULT_DENSITY,
  DEFAULT_EPSILON,
  DEFAULT_GAMMA,
  DEFAULT_LAMBDA,
  DEFAULT_OVERSAMPLE,
  DEFAULT_POWER_ITERS,
  SVD_DEFAULTS,
} from './methods/parameters';
import { METHODS, type MethodSpec, numberDefault, parameterDefault } from './methods/registry';
import { type ActivationStats, aimApplies, normalisedScale } from './activation-stats';
import { planPassthrough } from './methods/passthrough-plan';
import type { InputParameters, SvdSettings } from './tensor-job';

export interface PlannedInput {
  readonly model: string;
  readonly tensor: CheckpointTensor;
  /** Elements this input really has; beyond it, the base's values stand in (vocab_policy: base). */
  readonly available: number;
  readonly params: InputParameters;
  readonly stream: number;
}

export interface TensorPlan {
  readonly name: string;
  readonly shape: readonly number[];
  readonly numel: number;
  readonly outDtype: DType;
  readonly inputs: readonly PlannedInput[];
  readonly global: {
    lambda: number;
    normalize: boolean;
    rescale: boolean;
    t: number;
    options?: Readonly<Record<string, number | boolean>>;
  };
  /** SVD family only: per-tensor settings; such tensors are merged whole (one chunk) unless they fall back. */
  readonly svd?: SvdSettings;
  /** AIM post-step for this tensor (linear weights with calibration statistics). */
  readonly aim?: { readonly omega: number; readonly scale: Float32Array; readonly cols: number };
}

export type MergeWarningCode =
  /** A model has a tensor the base (first) model lacks: it is left out of the output. */
  | 'tensor-left-out'
  /** vocab_policy: base: a model has fewer embedding rows; the base's stand in. */
  | 'vocab-padded'
  /** An SVD method does not apply to this tensor (not 2-D, or an embedding): task arithmetic merges it. */
  | 'svd-fallback'
  /** AIM has no (matching) activation statistics for this weight: it is left as merged. */
  | 'aim-no-statistics'
  /** A model ties its embeddings: its lm_head.weight is materialised from embed_tokens. */
  | 'lm-head-materialised';

/** A planning warning: always about one tensor. */
export interface MergeWarning extends LabWarning {
  readonly code: MergeWarningCode;
  readonly tensor: string;
}

export interface MergePlan {
  readonly spec: MethodSpec;
  readonly tensors: readonly TensorPlan[];
  /** Model references in method order ([base, ...others] or the models list). */
  readonly inputModels: readonly string[];
  readonly warnings: readonly MergeWarning[];
  /** The base (or first) checkpoint: its config and tokenizer are the output's defaults. */
  readonly primary: Checkpoint;
  readonly tieWordEmbeddings: boolean;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** passthrough with slices: the output's layer count (config.json's num_hidden_layers). */
  readonly outputLayers?: number;
}

const LM_HEAD = 'lm_head.weight';
const EMBED = 'model.embed_tokens.weight';

function isEmbedding(name: string): boolean {
  return name === LM_HEAD || name === EMBED || /embed_tokens\.weight$/.test(name);
}

/** Orders the method's inputs: task-vector methods and SLERP put the base first. */
export function methodInputs(recipe: Recipe, spec: MethodSpec): string[] {
  if (spec.family === 'linear' || recipe.baseModel === undefined) return recipe.models.map((m) => m.model);
  return [recipe.baseModel!, ...recipe.models.map((m) => m.model).filter((m) => m !== recipe.baseModel)];
}

export function planMerge(
  recipe: Recipe,
  sources: ReadonlyMap<string, Checkpoint>,
  stats?: ActivationStats,
): MergePlan {
  const spec = METHODS[recipe.mergeMethod];
  if (recipe.sens || recipe.mergeMethod === 'sens_merging')
    throw new RecipeError(
      'sens',
      'a recipe with a sens block is merged once compiled with its statistics (compileSens)',
    );
  if (spec.name === 'passthrough') return passthroughPlan(recipe, sources, spec);
  const refs = methodInputs(recipe, spec);
  const warnings: MergeWarning[] = [];
  const warn = (code: MergeWarningCode, tensor: string, message: string) => warnings.push({ code, tensor, message });
  const ckpts = refs.map((r, i) => {
    const c = sources.get(r);
    if (!c)
      throw new RecipeError(i === 0 && recipe.baseModel === r ? 'base_model' : 'models', `model '${r}' was not loaded`);
    return c;
  });
  const primary = ckpts[0]!;
  const numLayers = primary.config?.numLayers ?? inferLayers(primary);

  // lm_head: materialise it from embed_tokens for models with tied embeddings when any model has one.
  const anyHead = ckpts.some((c) => c.tensor(LM_HEAD));
  const names = [...primary.tensors.keys()];
  if (anyHead && !primary.tensor(LM_HEAD)) names.push(LM_HEAD);
  for (const c of ckpts.slice(1))
    for (const n of c.tensors.keys())
      if (!names.includes(n) && !(n === LM_HEAD))
        warn('tensor-left-out', n, `${c.name}: tensor '${n}' is not in ${primary.name}; it is left out`);

  const modelParams = new Map(recipe.models.map((m) => [m.model, m.parameters]));
  const setting = (
    key: string,
    model: string | undefined,
    tensor: string,
    t: number,
  ): number | boolean | string | undefined => {
    const own = model !== undefined ? modelParams.get(model)?.[key] : undefined;
    const v = own !== undefined ? evaluateSetting(own as Setting, tensor, t) : undefined;
    if (v !== undefined) return v;
    const g = recipe.parameters[key];
    return g !== undefined ? evaluateSetting(g, tensor, t) : undefined;
  };
  const numberSetting = (
    key: string,
    model: string | undefined,
    tensor: string,
    t: number,
    fallback: number,
    field: string,
  ): number => {
    const v = setting(key, model, tensor, t);
    if (v === undefined) return fallback;
    if (typeof v !== 'number')
      throw new RecipeError(field, `must be a number for tensor '${tensor}', got ${JSON.stringify(v)}`);
    return v;
  };

  if (recipe.aim && !stats)
    throw new RecipeError(
      'aim.calibration',
      `AIM needs activation statistics ('${recipe.aim.calibration}') measured on the base model; none were loaded`,
    );
  const aimFor = (name: string, shape: readonly number[]): TensorPlan['aim'] => {
    if (!recipe.aim || !stats || !aimApplies(name, shape)) return undefined;
    const channels = stats.channels[name];
    if (!channels || channels.length !== shape[1]) {
      const detail = channels ? ` (${channels.length} channels, weight has ${shape[1]})` : '';
      warn('aim-no-statistics', name, `aim: no activation statistics for '${name}'${detail}; left as merged`);
      return undefined;
    }
    return { omega: recipe.aim.omega, scale: normalisedScale(channels), cols: shape[1]! };
  };
  const materialised = new Set<string>();
  const tensors: TensorPlan[] = names.map((name) => {
    const t = layerPosition(name, numLayers);
    const source = (c: Checkpoint): CheckpointTensor => {
      const own = c.tensor(name);
      if (own) return own;
      if (name === LM_HEAD && c.tensor(EMBED)) {
        materialised.add(c.name);
        return c.tensor(EMBED)!;
      }
      throw new MergeError('missing-tensor', `missing from model '${c.name}' (present in '${primary.name}')`, name);
    };
    const base = source(primary);
    const n = numel(base.shape);
    const inputs: PlannedInput[] = ckpts.map((c, i) => {
      const tensor = source(c);
      let available = n;
      if (tensor.shape.join('x') !== base.shape.join('x')) {
        const rowsDiffer =
          tensor.shape.length === base.shape.length &&
          tensor.shape.slice(1).join('x') === base.shape.slice(1).join('x');
        if (isEmbedding(name) && rowsDiffer) {
          if (recipe.vocabPolicy !== 'base')
            throw new MergeError(
              'vocab-mismatch',
              `vocabulary sizes differ: '${primary.name}' has ${base.shape[0]} rows, '${c.name}' has ${tensor.shape[0]} (set vocab_policy: base to keep the base's rows)`,
              name,
            );
          available = Math.min(n, numel(tensor.shape));
          warn(
            'vocab-padded',
            name,
            `${name}: '${c.name}' has ${tensor.shape[0]} rows; using the base's ${base.shape[0]}`,
          );
        } else {
          throw new MergeError(
            'shape-mismatch',
            `shape [${base.shape.join(', ')}] in '${primary.name}' but [${tensor.shape.join(', ')}] in '${c.name}'`,
            name,
          );
        }
      }
      const model = refs[i]!;
      const isBase = spec.family !== 'linear' && recipe.baseModel !== undefined && i === 0;
      const params: InputParameters = isBase
        ? { weight: 0, density: 1, gamma: 0 }
        : {
            weight:
              spec.family === 'slerp' || !spec.parameters.weight
                ? 1
                : numberSetting(
                    'weight',
                    model,
                    name,
                    t,
                    spec.family === 'svd' ? numberDefault(spec, 'weight') : NaN,
                    `models[${model}].parameters.weight`,
                  ),
            density: numberSetting('density', model, name, t, DEFAULT_DENSITY, `models[${model}].parameters.density`),
            gamma: numberSetting('gamma', model, name, t, DEFAULT_GAMMA, `models[${model}].parameters.gamma`),
            ...(spec.parameters.epsilon
              ? {
                  epsilon: numberSetting(
                    'epsilon',
                    model,
                    name,
                    t,
                    (parameterDefault(spec, 'epsilon') as number | undefined) ?? DEFAULT_EPSILON,
                    `models[${model}].parameters.epsilon`,
                  ),
                }
              : {}),
          };
      if (Number.isNaN(params.weight))
        throw new RecipeError(`models[${model}].parameters.weight`, `no weight resolves for tensor '${name}'`);
      if (params.epsilon !== undefined && spec.sparsification === 'della')
        checkDellaRange(model, name, params.density, params.epsilon);
      const modelIndex = recipe.models.findIndex((m) => m.model === model);
      return { model, tensor, available, params, stream: (fnv1a(name) ^ lowbias32(modelIndex + 1)) >>> 0 };
    });
    const flag = (key: string, fallback: boolean) => {
      const v = setting(key, undefined, name, t);
      return typeof v === 'boolean' ? v : fallback;
    };
    const aim = aimFor(name, base.shape);
    return {
      ...(aim ? { aim } : {}),
      name,
      shape: base.shape,
      numel: n,
      outDtype: recipe.dtype ?? base.dtype,
      inputs,
      global: {
        lambda: numberSetting('lambda', undefined, name, t, DEFAULT_LAMBDA, 'parameters.lambda'),
        normalize: flag('normalize', spec.defaultNormalize),
        rescale: flag('rescale', spec.defaultRescale),
        t: spec.family === 'slerp' ? numberSetting('t', undefined, name, t, NaN, 'parameters.t') : 0,
        ...(spec.family === 'tensor' ? { options: tensorOptions(name, t) } : {}),
      },
      ...(spec.family === 'svd' ? { svd: svdSettings(name, base.shape, t) } : {}),
    };
  });
  /** The tensor family's own global parameters for one tensor (the recipe's value, else the method's default). */
  function tensorOptions(name: string, t: number): Record<string, number | boolean> {
    // has_base: whether input 0 is a base_model (methods where it is optional: nuslerp, multislerp).
    const options: Record<string, number | boolean> = { has_base: recipe.baseModel !== undefined };
    for (const key of spec.globalParameters) {
      if (key === 'int8_mask') continue;
      const v = setting(key, undefined, name, t) ?? parameterDefault(spec, key);
      if (v === undefined) continue;
      if (typeof v !== 'number' && typeof v !== 'boolean')
        throw new RecipeError(
          `parameters.${key}`,
          `must be a number or boolean for tensor '${name}', got ${JSON.stringify(v)}`,
        );
      options[key] = v;
    }
    return options;
  }
  function svdSettings(name: string, shape: readonly number[], t: number): SvdSettings {
    const opt = (key: string) => {
      const v = setting(key, undefined, name, t);
      if (v !== undefined && typeof v !== 'number')
        throw new RecipeError(`parameters.${key}`, `must be a number for tensor '${name}', got ${JSON.stringify(v)}`);
      return v;
    };
    const fallback = shape.length !== 2 ? `${shape.length}-D` : isEmbedding(name) ? 'an embedding' : undefined;
    if (fallback) {
      const what = fallback === 'an embedding' ? 'embeddings' : `${fallback} tensors`;
      warn(
        'svd-fallback',
        name,
        `${name}: ${spec.name} applies to 2-D weights, not ${what}; merged with task arithmetic instead`,
      );
    }
    return {
      rank: opt('rank'),
      energy: opt('energy'),
      mu: opt('mu') ?? SVD_DEFAULTS.mu,
      iterations: opt('iterations') ?? SVD_DEFAULTS.iterations,
      commonFraction: opt('common_fraction'),
      oversample: opt('oversample') ?? DEFAULT_OVERSAMPLE,
      powerIters: opt('power_iters') ?? DEFAULT_POWER_ITERS,
      hasBase: recipe.baseModel !== undefined,
      fallback,
    };
  }
  for (const m of materialised)
    warn(
      'lm-head-materialised',
      LM_HEAD,
      `${m}: tied embeddings; lm_head.weight materialised from model.embed_tokens.weight`,
    );

  const tieWordEmbeddings = !names.includes(LM_HEAD) && (primary.config?.tieWordEmbeddings ?? false);
  return { spec, tensors, inputModels: refs, warnings, primary, tieWordEmbeddings, ...byteTotals(tensors) };
}

function byteTotals(tensors: readonly TensorPlan[]): { bytesIn: number; bytesOut: number } {
  return {
    bytesIn: tensors.reduce((s, tp) => s + tp.inputs.reduce((a, i) => a + i.tensor.byteLength, 0), 0),
    bytesOut: tensors.reduce((s, tp) => s + tp.numel * (tp.outDtype === 'F32' ? 4 : 2), 0),
  };
}

/** passthrough (with or without slices): tensors taken whole from one model each (methods/passthrough-plan.ts). */
function passthroughPlan(recipe: Recipe, sources: ReadonlyMap<string, Checkpoint>, spec: MethodSpec): MergePlan {
  const { tensors, primary, outputLayers } = planPassthrough(recipe, sources);
  return {
    spec,
    tensors,
    inputModels: recipe.models.map((m) => m.model),
    warnings: [],
    primary,
    tieWordEmbeddings: !tensors.some((t) => t.name === LM_HEAD) && (primary.config?.tieWordEmbeddings ?? false),
    ...byteTotals(tensors),
    ...(outputLayers !== undefined ? { outputLayers } : {}),
  };
}

/** mergekit's della_magprune refuses a density ± ε outside (0, 1) when it sparsifies (0 < density < 1). */
function checkDellaRange(model: string, tensor: string, density: number, epsilon: number): void {
  if (density <= 0 || density >= 1 || (density - epsilon > 0 && density + epsilon < 1)) return;
  throw new RecipeError(
    `models[${model}].parameters.epsilon`,
    `DELLA needs density ± epsilon inside (0, 1); tensor '${tensor}' has density ${density}, epsilon ${epsilon}`,
  );
}

function inferLayers(c: Checkpoint): number {
  let max = -1;
  for (const n of c.tensors.keys()) {
    const m = /(?:^|\.)layers\.(\d+)\./.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}
