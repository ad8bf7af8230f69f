/**
 * The CLI side of a recipe with a `sens` block: reads the statistics files it names (relative to
 * the recipe), and compiles it with the engine (src/core/sens/compile.ts) against the opened
 * checkpoints, printing the per-layer coefficients. Recipes without a block pass unchanged.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { RecipeError } from '../core/errors';
import type { Checkpoint } from '../core/formats/checkpoint';
import type { Recipe } from '../core/recipe/types';
import { type CompiledSens, compileSens, describeCoefficients } from '../core/sens/compile';
import { SENS_METHOD } from '../core/sens/settings';
import { type SensStats, parseSensStats } from '../core/sens/stats';

/** Every statistics file a recipe's `sens` block names, parsed, keyed by the name the recipe gives it. */
export async function loadSensStats(recipe: Recipe, recipeDir: string): Promise<Map<string, SensStats>> {
  const out = new Map<string, SensStats>();
  for (const [model, name] of Object.entries(recipe.sens?.statistics ?? {})) {
    const file = path.resolve(recipeDir, name);
    if (!existsSync(file))
      throw new RecipeError(
        `sens.statistics.${model}`,
        `${file} not found; create it with: merge-lab sensitivity --model ${model} --set <problems.jsonl> --out ${name}`,
      );
    out.set(name, parseSensStats(await readFile(file, 'utf8'), file));
  }
  return out;
}

/** The coefficients as the CLI prints them before a merge. */
export function describeCompiled(recipe: Recipe, c: CompiledSens): string {
  const name = recipe.mergeMethod === SENS_METHOD ? recipe.mergeMethod : `${recipe.mergeMethod} + sens`;
  return `${name} (T=${recipe.sens?.temperature}, λ=${c.lambda}): per-layer coefficients\n${describeCoefficients(c.coefficients, c.lambda)}`;
}

/** The recipe to merge: compiled when it has a `sens` block (the coefficients logged), else itself. */
export async function compileRecipeSens(
  recipe: Recipe,
  recipeDir: string,
  sources: ReadonlyMap<string, Checkpoint>,
  log: (line: string) => void = () => {},
): Promise<Recipe> {
  if (!recipe.sens && recipe.mergeMethod !== SENS_METHOD) return recipe;
  const compiled = compileSens(recipe, await loadSensStats(recipe, recipeDir), sources);
  log(describeCompiled(recipe, compiled));
  return compiled.recipe;
}
