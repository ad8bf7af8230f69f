/**
 * Reads a `merge_method: sens_merging` recipe's statistics files (relative to the recipe), checks
 * each against its model's checkpoint (name, shape, every layer present) and compiles the recipe to
 * the task_arithmetic recipe it stands for (src/core/sens/recipe.ts). Other recipes pass unchanged.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import YAML from 'yaml';
import { RecipeError } from '../core/errors';
import { Checkpoint } from '../core/formats/checkpoint';
import type { SensInput } from '../core/sens/coefficients';
import { compileSensRecipe, describeCoefficients, readSensBlock } from '../core/sens/recipe';
import { checkStatsFor, parseSensStats } from '../core/sens/stats';
import { FsModelFolder } from '../node/fs-folder';
import { resolveModelPath } from './load-sources';

/** The recipe text to parse: `text` itself, or for sens_merging the compiled task_arithmetic recipe. */
export async function compileSensRecipeText(
  text: string,
  recipeDir: string,
  log: (line: string) => void = () => {},
): Promise<string> {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch {
    return text; // the recipe parser reports it
  }
  const block = readSensBlock(doc);
  if (!block) return text;
  const inputs: SensInput[] = [];
  for (const [model, name] of Object.entries(block.statistics)) {
    const file = path.resolve(recipeDir, name);
    if (!existsSync(file))
      throw new RecipeError(
        `sens.statistics.${model}`,
        `${file} not found; create it with: merge-lab sensitivity --model ${model} --set <problems.jsonl> --out ${name}`,
      );
    const stats = parseSensStats(await readFile(file, 'utf8'), file);
    const folder = new FsModelFolder(resolveModelPath(model, recipeDir));
    try {
      const ckpt = await Checkpoint.open(folder, { requireConfig: true });
      const c = ckpt.config!;
      checkStatsFor(stats, file, {
        name: ckpt.name,
        layers: c.numLayers,
        hidden: c.hiddenSize,
        vocab: c.vocabSize,
        tensors: [...ckpt.tensors.keys()],
      });
    } finally {
      await folder.close();
    }
    inputs.push({ model, file, stats });
  }
  const compiled = compileSensRecipe(doc as Record<string, unknown>, block, inputs);
  const params = (compiled.doc.parameters ?? {}) as { lambda?: unknown };
  const lambda = typeof params.lambda === 'number' ? params.lambda : 1;
  log(
    `sens_merging (T=${block.choices.temperature}, λ=${lambda}): per-layer coefficients\n${describeCoefficients(compiled.coefficients, lambda)}`,
  );
  return YAML.stringify(compiled.doc);
}
