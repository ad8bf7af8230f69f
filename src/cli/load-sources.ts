/** Resolves a recipe's model references to checkpoint folders on disk and opens them. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { RecipeError } from '../core/errors';
import { Checkpoint } from '../core/formats/checkpoint';
import { type ActivationStats, parseActivationStats } from '../core/merge/activation-stats';
import { readFile } from 'node:fs/promises';
import type { Recipe } from '../core/recipe/types';
import { FsModelFolder } from '../node/fs-folder';

/** A reference is a folder path, tried relative to the recipe's folder, then the working directory. */
export function resolveModelPath(ref: string, recipeDir: string): string {
  for (const candidate of [path.resolve(recipeDir, ref), path.resolve(ref)])
    if (existsSync(candidate)) return candidate;
  throw new RecipeError('models', `model '${ref}' not found (looked in ${recipeDir} and ${process.cwd()})`);
}

export async function openRecipeSources(recipe: Recipe, recipeDir: string): Promise<Map<string, Checkpoint>> {
  const refs = new Set([...(recipe.baseModel ? [recipe.baseModel] : []), ...recipe.models.map((m) => m.model)]);
  if (recipe.tokenizerSource && recipe.tokenizerSource !== 'base') refs.add(recipe.tokenizerSource);
  const out = new Map<string, Checkpoint>();
  for (const ref of refs) {
    const folder = new FsModelFolder(resolveModelPath(ref, recipeDir));
    out.set(ref, await Checkpoint.open(folder));
  }
  return out;
}

/** The activation statistics a recipe with `aim` names, read relative to the recipe's folder. */
export async function loadAimStats(recipe: Recipe, recipeDir: string): Promise<ActivationStats | undefined> {
  if (!recipe.aim) return undefined;
  const file = path.resolve(recipeDir, recipe.aim.calibration);
  if (!existsSync(file))
    throw new RecipeError(
      'aim.calibration',
      `${file} not found; create it with: merge-lab calibrate --model <base> --set <problems.jsonl> --out ${recipe.aim.calibration}`,
    );
  return parseActivationStats(await readFile(file, 'utf8'), file);
}
