/**
 * `merge-lab sweep recipe.yml --param weight --values 0,0.1,...,1 --set FILE`: merges each point
 * (into a temporary folder), evaluates it beside the source models, and prints the table, the
 * Pareto frontier of accuracy against length, and the point a user would pick.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { paretoFrontier, pickShortestWithin } from '../core/eval/pareto';
import { formatTable, tableRows } from '../core/eval/report';
import { sweepRecipes } from '../core/eval/sweep';
import { merge } from '../core/merge/execute';
import { RecipeError } from '../core/errors';
import { parseRecipe, parseRecipeObject, recipeToObject } from '../core/recipe/parse';
import type { Recipe } from '../core/recipe/types';
import { compileSens } from '../core/sens/compile';
import { formatMs } from '../core/units';
import { FsOutputFolder } from '../node/fs-folder';
import { UsageError, parse } from './args';
import { selectBackend } from './backends';
import { evalFlags, evalSettings, runEvaluation, writeOutputs } from './eval-command';
import { loadAimStats, openRecipeSources, resolveModelPath } from './load-sources';
import { describeCompiled, loadSensStats } from './sens-recipe';

export const SWEEP_USAGE =
  'merge-lab sweep RECIPE.yml --param weight|density|gamma|lambda|t|temperature|models.NAME.PARAM --values V1,V2,... --set FILE [--within POINTS] [--keep DIR] [eval flags]';

/** The recipes of a sweep; `temperature` is the `sens` block's T (the statistics are loaded once, for every point). */
function pointRecipes(recipe: Recipe, param: string, points: readonly number[]) {
  if (param !== 'temperature' && param !== 'sens.temperature') return sweepRecipes(recipe, param, points);
  if (!recipe.sens) throw new RecipeError('sweep', `cannot sweep '${param}': the recipe has no sens block`);
  return points.map((value) => {
    const r = parseRecipeObject(recipeToObject({ ...recipe, sens: { ...recipe.sens!, temperature: value } })).recipe;
    return { value, recipe: r };
  });
}

export async function sweepCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    param: { type: 'string' },
    values: { type: 'string' },
    within: { type: 'string', default: '5' },
    keep: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    ...evalFlags,
  });
  const recipeFile = positionals[0];
  if (!recipeFile || !values.param || !values.values) throw new UsageError(`usage: ${SWEEP_USAGE}`);
  const points = values.values.split(',').map((v) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--values: '${v}' is not a number`);
    return n;
  });
  const within = Number(values.within) / 100;
  const recipeDir = path.dirname(path.resolve(recipeFile));
  const { recipe } = parseRecipe(await fs.readFile(recipeFile, 'utf8'));
  const settings = await evalSettings(values);
  const sources = await openRecipeSources(recipe, recipeDir);
  const activationStats = await loadAimStats(recipe, recipeDir);
  const sensStats = await loadSensStats(recipe, recipeDir);
  const recipes = pointRecipes(recipe, values.param, points);
  const outRoot = values.keep ? path.resolve(values.keep) : await fs.mkdtemp(path.join(tmpdir(), 'merge-lab-sweep-'));
  const { backend, notice } = await selectBackend(values.backend!);
  process.stderr.write(`${notice}\n`);

  const mergedDirs: string[] = [];
  try {
    for (const { value, recipe: point } of recipes) {
      const compiled = compileSens(point, sensStats, sources);
      if (point.sens) process.stderr.write(`${values.param}=${value}: ${describeCompiled(point, compiled)}\n`);
      const r = compiled.recipe;
      const dir = path.join(outRoot, `${recipe.mergeMethod}-${values.param}-${value}`);
      await fs.rm(dir, { recursive: true, force: true });
      const s = await merge(r, sources, backend, new FsOutputFolder(dir), activationStats ? { activationStats } : {});
      process.stderr.write(`merged ${values.param}=${value} in ${formatMs(s.ms)}\n`);
      mergedDirs.push(dir);
    }
  } finally {
    await backend.dispose?.();
    await Promise.all([...sources.values()].map((c) => c.close()));
  }

  // Sources first (System 1 = base, then the other models), then every sweep point.
  const sourceDirs = [
    ...new Set([recipe.baseModel, ...recipe.models.map((m) => m.model)].filter((m): m is string => !!m)),
  ].map((m) => resolveModelPath(m, recipeDir));
  const runs = await runEvaluation([...sourceDirs, ...mergedDirs], settings);
  const reference = values.reference
    ? path.basename(path.resolve(values.reference))
    : path.basename(sourceDirs[sourceDirs.length - 1]!);
  const rows = tableRows(runs, reference);
  console.log(formatTable(rows));
  const pointsOf = rows.map((r) => ({ label: r.model, accuracy: r.accuracy, meanTokens: r.meanTokens }));
  const front = paretoFrontier(pointsOf);
  console.log(
    `\nPareto frontier (accuracy ↑, mean tokens ↓): ${front.map((p) => `${p.label} (${(100 * p.accuracy).toFixed(1)}%, ${p.meanTokens.toFixed(1)} tok)`).join(' → ')}`,
  );
  const ref = pointsOf.find((p) => p.label === reference);
  if (ref) {
    const pick = pickShortestWithin(
      pointsOf.filter((p) => !sourceDirs.some((d) => path.basename(d) === p.label)),
      ref.accuracy,
      within,
    );
    console.log(
      pick
        ? `Pick: ${pick.label}: ${(100 * pick.accuracy).toFixed(1)}% at ${pick.meanTokens.toFixed(1)} tokens (${(100 * (1 - pick.meanTokens / ref.meanTokens)).toFixed(1)}% shorter than ${reference}, within ${(within * 100).toFixed(0)} points of its accuracy)`
        : `No sweep point is within ${(within * 100).toFixed(0)} points of ${reference}'s accuracy.`,
    );
  }
  if (!values.keep) await fs.rm(outRoot, { recursive: true, force: true });
  await writeOutputs(runs, values);
}
