/**
 * The toy behind every explanation: the recipe's models replaced by small fixed tensors (a base θ₀
 * and fine-tunes θ₀ + δ_A, δ_B, δ_C), merged by the engine itself (merge(), the CPU reference
 * backend, the planner's parameter resolution) exactly as a real merge would be. Methods that need
 * more models than the recipe names get stand-ins; passthrough gets toy models with layers.
 */
import { LabError } from '../../errors';
import { decodeToF32, encodeFromF32 } from '../../dtype';
import { Checkpoint } from '../../formats/checkpoint';
import { SafetensorsFile } from '../../formats/safetensors';
import { encodeHeader, planShards } from '../../formats/safetensors-writer';
import { MapModelFolder, MemoryByteSource } from '../../io/byte-source';
import { MemoryOutputFolder } from '../../io/output-folder';
import { emitRecipe, parseRecipe } from '../../recipe/parse';
import type { Recipe, RecipeModel } from '../../recipe/types';
import { ACTIVATION_STATS_FORMAT, type ActivationStats } from '../activation-stats';
import { CpuBackend } from '../cpu-backend';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../diagnostics';
import { merge } from '../execute';
import { METHODS, type MethodSpec } from '../methods/registry';
import { type MergePlan, type PlannedInput, planMerge } from '../plan';
import { SENS_METHOD } from '../../sens/settings';

/** The toy base θ₀ (a 2×4 weight, row-major). */
export const TOY_BASE = [0.2, -0.1, 0.5, 0.3, -0.4, 0.1, 0.6, -0.2] as const;
/** The fine-tunes' task vectors δ = θ − θ₀ (zeros where RAM's count needs them). */
export const TOY_DELTAS = [
  [0.9, -0.2, 0.3, -0.4, 0, 0.5, -0.3, 0.6],
  [-0.5, -0.6, 0, 0.3, 0.7, -0.2, -0.45, 0.35],
  [0.3, 0.5, -0.6, 0.2, -0.1, 0.4, 0.25, -0.5],
] as const;
/** The toy's tensor (outside the layers: a gradient takes its value at depth 0). */
export const TOY_TENSOR = 'toy.weight';
/** Layers per passthrough toy model (more when a slice asks for more). */
export const TOY_LAYERS = 4;

const LETTERS = ['A', 'B', 'C'] as const;

/** One toy input in method order: its checkpoint name, label and what it stands for. */
export interface ToyModel {
  readonly name: string;
  readonly label: string;
  /** The recipe's model it replaces; undefined for a stand-in. */
  readonly stands: string | undefined;
}

/** What the engine did with the toy. */
export interface ToyRun {
  readonly spec: MethodSpec;
  readonly recipe: Recipe;
  readonly plan: MergePlan;
  /** Per toy model name, its label. */
  readonly models: ReadonlyMap<string, ToyModel>;
  /** Per input tensor name, per toy model name: the values (f32). */
  readonly values: ReadonlyMap<string, ReadonlyMap<string, Float32Array>>;
  /** The merged tensors by name. */
  readonly outputs: ReadonlyMap<string, Float32Array>;
  readonly diagnostics: Readonly<Record<string, TensorDiagnostics>>;
  readonly spectra: readonly SpectrumDiagnostics[];
  readonly notes: readonly string[];
}

/** The toy's shape: a 2×4 weight (DELLA ranks within its rows of 4, AIM scales its 4 input columns). */
export const TOY_SHAPE: readonly number[] = [2, 4];
/** The AIM toy's activation statistics: mean |x_j| of the 4 input channels, as a calibration would measure. */
export const TOY_ACTIVATIONS: readonly number[] = [4, 1, 0.5, 2];

function checkpoint(name: string, tensors: ReadonlyMap<string, { shape: number[]; values: Float32Array }>) {
  const planned = [...tensors].map(([n, t]) => ({ name: n, dtype: 'F32' as const, shape: t.shape }));
  const [shard] = planShards(planned);
  const header = encodeHeader(shard!, {});
  const bytes = new Uint8Array(header.byteLength + shard!.dataBytes);
  bytes.set(header);
  let o = header.byteLength;
  for (const t of tensors.values()) {
    bytes.set(encodeFromF32(t.values, 'F32'), o);
    o += t.values.byteLength;
  }
  return Checkpoint.open(new MapModelFolder(name, new Map([['model.safetensors', bytes]])));
}

/** θ₀ + δ in f32, as a fine-tuned checkpoint stores it. */
const fineTune = (k: number) => Float32Array.from(TOY_BASE, (b, i) => b + TOY_DELTAS[k]![i]!);

/** The toy models' parameters: the recipe's, or for a stand-in the first model's with weight 1. */
function standIn(first: RecipeModel | undefined, name: string): RecipeModel {
  const parameters = { ...(first?.parameters ?? {}) };
  if ('weight' in parameters) parameters.weight = 1;
  return { model: name, parameters };
}

/** How many models besides the base the toy merges: the recipe's count, at least 2, within the method's bounds. */
function toyCount(spec: MethodSpec, given: number): number {
  if (spec.family === 'slerp') return 1;
  const lo = spec.others?.min ?? 1;
  const hi = Math.min(spec.others?.max ?? LETTERS.length, LETTERS.length);
  return Math.max(lo, Math.min(hi, Math.max(given, 2)));
}

/** The toy recipe and checkpoints for a method with one tensor. */
async function tensorToy(recipe: Recipe, spec: MethodSpec) {
  const notes: string[] = [];
  const models = new Map<string, ToyModel>();
  const shape = [...TOY_SHAPE];
  const tensors = new Map<string, Float32Array>();
  const withBase = spec.family !== 'linear' && (spec.needsBase || recipe.baseModel !== undefined);
  if (withBase) {
    models.set('base', { name: 'base', label: 'θ₀', stands: recipe.baseModel });
    tensors.set('base', Float32Array.from(TOY_BASE));
    if (!recipe.baseModel) notes.push('θ₀ stands in for the base_model the recipe lacks.');
  }
  const given = recipe.models.filter((m) => !withBase || m.model !== recipe.baseModel);
  const count = spec.family === 'linear' ? Math.min(Math.max(given.length, 2), 3) : toyCount(spec, given.length);
  const toyModels: RecipeModel[] = [];
  for (let k = 0; k < count; k++) {
    const name = LETTERS[k]!;
    const real = given[k];
    models.set(name, { name, label: `θ_${name}`, stands: real?.model });
    // linear has no base: its first model holds θ₀'s values, the others θ₀ + δ.
    tensors.set(name, spec.family === 'linear' && k === 0 ? Float32Array.from(TOY_BASE) : fineTune(k));
    if (!real) notes.push(`θ_${name} stands in for a model the recipe does not name (the method merges ${count}).`);
    const own = real ? { model: name, parameters: real.parameters } : standIn(given[0], name);
    const needsWeight = recipe.mergeMethod === SENS_METHOD && own.parameters.weight === undefined;
    toyModels.push(needsWeight ? { ...own, parameters: { ...own.parameters, weight: 1 } } : own);
  }
  if (given.length > count)
    notes.push(
      `The toy merges the first ${count} of the recipe's ${given.length} models: ${spec.name} merges ${count}.`,
    );
  const baseEntry = withBase ? recipe.models.find((m) => m.model === recipe.baseModel) : undefined;
  const sensMethod = recipe.mergeMethod === SENS_METHOD;
  if (sensMethod || recipe.sens)
    notes.push(
      'Sens-Merging’s per-layer weights come from sensitivity statistics the toy does not have: the toy merges with the weights as set (what the sens block compiles to, with each w_t^l = 1).',
    );
  const toy: Recipe = {
    ...recipe,
    // sens_merging compiles to task arithmetic (src/core/sens/compile.ts), with weight 1 where none is set.
    ...(sensMethod ? { mergeMethod: 'task_arithmetic' as const } : {}),
    sens: undefined,
    baseModel: withBase ? 'base' : undefined,
    models: [...(baseEntry ? [{ model: 'base', parameters: baseEntry.parameters }] : []), ...toyModels],
    slices: undefined,
    tokenizerSource: undefined,
    dtype: undefined,
    aim: recipe.aim ? { ...recipe.aim, calibration: 'toy' } : undefined,
  };
  if (recipe.aim)
    notes.push(
      `AIM uses toy activation statistics (mean |x_j| = ${TOY_ACTIVATIONS.join(', ')} for the 4 input columns), not the calibration's.`,
    );
  const ckpts = await Promise.all(
    [...tensors].map(([n, v]) => checkpoint(n, new Map([[TOY_TENSOR, { shape, values: v }]]))),
  );
  const values = new Map([[TOY_TENSOR, tensors]]);
  return { toy, ckpts, models, values, notes };
}

/** passthrough: toy models with TOY_LAYERS (or more) layers, one small tensor each. */
async function passthroughToy(recipe: Recipe) {
  const names = [...new Set(recipe.slices?.map((s) => s.model) ?? [recipe.models[0]?.model ?? 'A'])];
  const layers = Math.max(TOY_LAYERS, ...(recipe.slices ?? []).map((s) => s.layerRange[1]));
  const models = new Map<string, ToyModel>();
  const values = new Map<string, Map<string, Float32Array>>();
  const put = (tensor: string, model: string, v: number[]) => {
    if (!values.has(tensor)) values.set(tensor, new Map());
    values.get(tensor)!.set(model, Float32Array.from(v));
  };
  const ckpts = await Promise.all(
    names.map((real, k) => {
      const name = String.fromCharCode(65 + k);
      models.set(name, { name, label: name, stands: real });
      const own = new Map<string, { shape: number[]; values: Float32Array }>();
      const add = (tensor: string, v: number[]) => {
        put(tensor, name, v);
        own.set(tensor, { shape: [2], values: Float32Array.from(v) });
      };
      // Values name their origin: model k, layer l → 10(k + 1) + l.
      add('model.embed_tokens.weight', [10 * (k + 1), -10 * (k + 1)]);
      for (let l = 0; l < layers; l++) add(`model.layers.${l}.mlp.down_proj.weight`, [10 * (k + 1) + l, 0.5]);
      add('model.norm.weight', [10 * (k + 1) + 0.5, 1]);
      add('lm_head.weight', [-10 * (k + 1), 10 * (k + 1)]);
      return checkpoint(name, own);
    }),
  );
  const rename = new Map(names.map((n, k) => [n, String.fromCharCode(65 + k)]));
  const toy: Recipe = {
    ...recipe,
    baseModel: undefined,
    models: recipe.models.filter((m) => rename.has(m.model)).map((m) => ({ ...m, model: rename.get(m.model)! })),
    slices: recipe.slices?.map((s) => ({ ...s, model: rename.get(s.model)! })),
    sens: undefined,
    tokenizerSource: undefined,
    dtype: undefined,
    aim: undefined,
  };
  return { toy, ckpts, models, values, notes: [] as string[] };
}

async function readOutputs(out: MemoryOutputFolder): Promise<Map<string, Float32Array>> {
  const bytes = out.files.get('model.safetensors')!;
  const file = await SafetensorsFile.open(new MemoryByteSource(bytes, 'model.safetensors'));
  const outputs = new Map<string, Float32Array>();
  for (const [name, info] of file.tensors) outputs.set(name, decodeToF32(await file.readRange(name), info.dtype));
  return outputs;
}

/** Runs the engine's merge of the toy for `recipe`'s method and settings; a LabError when the engine refuses it. */
export async function runToy(recipe: Recipe): Promise<ToyRun> {
  const spec = METHODS[recipe.mergeMethod];
  const built = spec.name === 'passthrough' ? await passthroughToy(recipe) : await tensorToy(recipe, spec);
  // The parser's checks (model counts, required weights, ranges) apply to the toy as to any recipe.
  const toy = parseRecipe(emitRecipe(built.toy)).recipe;
  const sources = new Map(built.ckpts.map((c) => [c.name, c]));
  const spectra: SpectrumDiagnostics[] = [];
  const out = new MemoryOutputFolder('toy');
  const activationStats: ActivationStats | undefined = toy.aim
    ? {
        format: ACTIVATION_STATS_FORMAT,
        version: 1,
        model: 'base',
        calibration: { set: 'toy', samples: 0, tokens: 0 },
        channels: { [TOY_TENSOR]: TOY_ACTIVATIONS },
      }
    : undefined;
  const summary = await merge(toy, sources, new CpuBackend(), out, {
    ...(activationStats ? { activationStats } : {}),
    diagnostics: true,
    onSpectrum: (d) => spectra.push(d),
  });
  return {
    spec,
    recipe: toy,
    plan: planMerge(toy, sources, activationStats),
    models: built.models,
    values: built.values,
    outputs: await readOutputs(out),
    diagnostics: summary.diagnostics,
    spectra,
    notes: built.notes,
  };
}

/** The one tensor's plan entry (every method but passthrough). */
export function toyInputs(run: ToyRun): readonly PlannedInput[] {
  return run.plan.tensors.find((t) => t.name === TOY_TENSOR)!.inputs;
}

/** Whether an error is the engine refusing the toy recipe (shown in place of the toy). */
export const isRefusal = (e: unknown): e is LabError => e instanceof LabError;
