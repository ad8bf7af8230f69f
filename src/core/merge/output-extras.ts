/** What a merge writes besides the tensors: the tokenizer files and config.json. */
import { recipeDTypeName } from '../dtype';
import { RecipeError } from '../errors';
import { type Checkpoint, TOKENIZER_FILES } from '../formats/checkpoint';
import type { ShardedSafetensorsWriter } from '../formats/safetensors-writer';
import type { Recipe } from '../recipe/types';
import type { MergePlan } from './plan';

/** The checkpoint whose tokenizer files the output gets: `tokenizer_source`, or the base (first) model. */
export function resolveTokenizerSource(
  recipe: Recipe,
  sources: ReadonlyMap<string, Checkpoint>,
  plan: MergePlan,
): Checkpoint {
  const ref = recipe.tokenizerSource;
  if (!ref || ref === 'base') return plan.primary;
  const c = sources.get(ref);
  if (!c) throw new RecipeError('tokenizer_source', `model '${ref}' was not loaded`);
  return c;
}

/** Copies the tokenizer files and writes config.json (dtype and tied embeddings as merged). */
export async function writeExtras(
  writer: ShardedSafetensorsWriter,
  plan: MergePlan,
  recipe: Recipe,
  tokenizerFrom: Checkpoint,
): Promise<void> {
  const enc = new TextEncoder();
  for (const f of TOKENIZER_FILES) {
    const src = await tokenizerFrom.folder.open(f);
    if (src) await writer.writeExtra(f, await src.read(0, src.size));
  }
  const config: Record<string, unknown> = { ...(plan.primary.config?.raw ?? {}) };
  if (plan.primary.config) {
    config.tie_word_embeddings = plan.tieWordEmbeddings;
    const dtype = recipe.dtype ?? plan.tensors[0]?.outDtype;
    if (dtype) config.torch_dtype = recipeDTypeName(dtype);
    if (plan.outputLayers !== undefined) config.num_hidden_layers = plan.outputLayers;
  }
  await writer.writeExtra('config.json', enc.encode(JSON.stringify(config, null, 2) + '\n'));
}
