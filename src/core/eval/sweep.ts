/**
 * Parameter sweeps over a recipe: the same recipe with one parameter set to each value.
 * Parameter paths: `weight`, `density`, `gamma` (set on every non-base model), `lambda`, `t`,
 * or `models.<name>.<param>` for one model.
 */
import { RecipeError } from '../errors';
import { parseRecipeObject, recipeToObject } from '../recipe/parse';
import type { Recipe } from '../recipe/types';

export function withParameter(recipe: Recipe, path: string, value: number): Recipe {
  const m = /^models\.(.+)\.(weight|density|gamma)$/.exec(path);
  if (m) {
    if (!recipe.models.some((x) => x.model === m[1]))
      throw new RecipeError('models', `sweep: no model '${m[1]}' in the recipe`);
    return {
      ...recipe,
      models: recipe.models.map((x) =>
        x.model === m[1] ? { ...x, parameters: { ...x.parameters, [m[2]!]: value } } : x,
      ),
    };
  }
  if (path === 'weight' || path === 'density' || path === 'gamma')
    return {
      ...recipe,
      models: recipe.models.map((x) =>
        x.model === recipe.baseModel ? x : { ...x, parameters: { ...x.parameters, [path]: value } },
      ),
    };
  if (path === 'lambda' || path === 't') return { ...recipe, parameters: { ...recipe.parameters, [path]: value } };
  throw new RecipeError(
    'sweep',
    `cannot sweep '${path}' (use weight, density, gamma, lambda, t or models.<name>.<param>)`,
  );
}

/** One validated recipe per value (a value out of range fails like a hand-written recipe would). */
export function sweepRecipes(
  recipe: Recipe,
  path: string,
  values: readonly number[],
): { value: number; recipe: Recipe }[] {
  return values.map((value) => {
    const parsed = parseRecipeObject(recipeToObject(withParameter(recipe, path, value)));
    // The parser only warns about a parameter the method does not read; a sweep over one would do nothing.
    const unused = parsed.warnings.find(
      (w) => w.code === 'unused-parameter' && w.field.endsWith(`.${path.split('.').pop()}`),
    );
    if (unused) throw new RecipeError('sweep', `cannot sweep '${path}': ${unused.message}`);
    return { value, recipe: parsed.recipe };
  });
}
