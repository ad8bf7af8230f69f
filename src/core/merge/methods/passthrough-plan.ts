/**
 * The tensors of a passthrough merge: with `slices`, the output's layers are the slices' layer
 * ranges in order (renumbered from 0), the embeddings come from the first slice's model and the
 * other tensors outside the layers (final norm, lm_head) from the last slice's, as mergekit plans
 * pre- and post-weights; without slices, every tensor of the one model. Every slice's model must
 * have the layers it names and all must share one architecture, else a RecipeError names the model
 * and the layer range before anything is read or written.
 */
import type { DType } from '../../dtype';
import { RecipeError } from '../../errors';
import type { Checkpoint, CheckpointTensor } from '../../formats/checkpoint';
import { numel } from '../../formats/safetensors';
import { evaluateSetting } from '../../recipe/resolve';
import type { Recipe, RecipeSlice, Setting } from '../../recipe/types';

const LAYER = /^(.*?(?:^|\.)layers\.)(\d+)(\..*)$/;

/** What the planner needs of each output tensor (structurally a plan.ts TensorPlan). */
export interface PassthroughTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly numel: number;
  readonly outDtype: DType;
  readonly inputs: readonly {
    readonly model: string;
    readonly tensor: CheckpointTensor;
    readonly available: number;
    readonly params: { readonly weight: number; readonly density: number; readonly gamma: number };
    readonly stream: number;
  }[];
  readonly global: { lambda: number; normalize: boolean; rescale: boolean; t: number };
}

function layerCount(c: Checkpoint): number {
  let max = -1;
  for (const n of c.tensors.keys()) {
    const m = LAYER.exec(n);
    if (m) max = Math.max(max, Number(m[2]));
  }
  return c.config?.numLayers ?? max + 1;
}

export function planPassthrough(
  recipe: Recipe,
  sources: ReadonlyMap<string, Checkpoint>,
): { tensors: PassthroughTensor[]; primary: Checkpoint; outputLayers: number | undefined } {
  const slices: readonly RecipeSlice[] = recipe.slices ?? [
    { model: recipe.models[0]!.model, layerRange: [0, Infinity], parameters: recipe.models[0]!.parameters },
  ];
  const field = (i: number) => (recipe.slices ? `slices[${i}].sources[0]` : 'models[0]');
  const ckpts = slices.map((s, i) => {
    const c = sources.get(s.model);
    if (!c) throw new RecipeError(`${field(i)}.model`, `model '${s.model}' was not loaded`);
    return c;
  });
  const arch = (c: Checkpoint) => c.config?.architecture ?? 'unknown';
  ckpts.forEach((c, i) => {
    if (arch(c) !== arch(ckpts[0]!))
      throw new RecipeError(
        `${field(i)}.model`,
        `passthrough stacks layers of one architecture: '${slices[i]!.model}' is ${arch(c)}, '${slices[0]!.model}' is ${arch(ckpts[0]!)}`,
      );
    const [start, end] = slices[i]!.layerRange;
    const n = layerCount(c);
    if (recipe.slices && end > n)
      throw new RecipeError(
        `${field(i)}.layer_range`,
        `model '${slices[i]!.model}' has ${n} layers (0–${n - 1}); layer_range [${start}, ${end}] asks for layers ${start}–${end - 1}`,
      );
  });

  const tensors: PassthroughTensor[] = [];
  const add = (name: string, c: Checkpoint, t: CheckpointTensor, slice: RecipeSlice, depth: number) => {
    const own = slice.parameters.scale ?? recipe.parameters.scale;
    const scale = own === undefined ? 1 : evaluateSetting(own as Setting, name, depth);
    if (scale !== undefined && typeof scale !== 'number')
      throw new RecipeError('scale', `must be a number for tensor '${name}', got ${JSON.stringify(scale)}`);
    const n = numel(t.shape);
    tensors.push({
      name,
      shape: t.shape,
      numel: n,
      outDtype: recipe.dtype ?? t.dtype,
      inputs: [
        { model: c.name, tensor: t, available: n, params: { weight: scale ?? 1, density: 1, gamma: 0 }, stream: 0 },
      ],
      global: { lambda: 1, normalize: false, rescale: false, t: 0 },
    });
  };
  const outside = (c: Checkpoint, embeddings: boolean) =>
    [...c.tensors.entries()].filter(([n]) => !LAYER.test(n) && /embed_tokens/.test(n) === embeddings);
  const [first, last] = [ckpts[0]!, ckpts[ckpts.length - 1]!];
  for (const [n, t] of outside(first, true)) add(n, first, t, slices[0]!, 0);
  let out = 0;
  slices.forEach((s, i) => {
    const c = ckpts[i]!;
    const [start, end] = [s.layerRange[0], Math.min(s.layerRange[1], layerCount(c))];
    for (let l = start; l < end; l++, out++) {
      const depth = end - start > 1 ? (l - start) / (end - start - 1) : 1;
      for (const [n, t] of c.tensors) {
        const m = LAYER.exec(n);
        if (m && Number(m[2]) === l) add(`${m[1]}${out}${m[3]}`, c, t, s, depth);
      }
    }
  });
  for (const [n, t] of outside(last, false)) add(n, last, t, slices[slices.length - 1]!, 0);
  return { tensors, primary: first, outputLayers: recipe.slices ? out : undefined };
}
