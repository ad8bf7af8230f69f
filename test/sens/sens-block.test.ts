// The engine's compile step for a `sens` block (src/core/sens/compile.ts): sens_merging and the
// block on TIES / DARE merge the same bytes as the same methods given the equivalent per-layer
// weight lists written out by hand; the block survives the YAML round trip; bad blocks and
// statistics are refused with the field, file and layer named.
import { describe, expect, it } from 'vitest';
import { RecipeError } from '../../src/core/errors';
import type { Checkpoint } from '../../src/core/formats/checkpoint';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { emitRecipe, exportRecipe, parseRecipe } from '../../src/core/recipe/parse';
import type { Recipe } from '../../src/core/recipe/types';
import { DEFAULT_SENS_CHOICES, sensCoefficients } from '../../src/core/sens/coefficients';
import { compileSens, layerCoefficients, sensExportNotes } from '../../src/core/sens/compile';
import { SensStatsError } from '../../src/core/sens/stats';
import { tinyCheckpoint } from '../helpers/checkpoints';
import { toySensStats } from '../helpers/sens-stats';

const stats = (model: string, values: number[], distances: Record<string, number>) =>
  toySensStats(model, { layers: 2, hidden: 8, vocab: 16 }, values, distances, (v, i) => v + i);
const STATS = new Map([
  ['slow.json', stats('slow', [4, 1, 20, 0.5, 9], { quick: 3 })],
  ['quick.json', stats('quick', [1, 3, 5, 0.2, 12], { slow: 7 })],
]);
const SENS = 'sens: {temperature: 0.5, statistics: {slow: slow.json, quick: quick.json}}\n';

async function sources(): Promise<Map<string, Checkpoint>> {
  const quick = await tinyCheckpoint('quick', { seed: 1 });
  const slow = await tinyCheckpoint('slow', { seed: 2, like: { seed: 1, scale: 0.05 } });
  return new Map([
    ['quick', quick],
    ['slow', slow],
  ]);
}

async function mergeBytes(recipe: Recipe, src: Map<string, Checkpoint>): Promise<Map<string, Uint8Array>> {
  const out = new MemoryOutputFolder();
  await merge(recipe, src, new CpuBackend(), out);
  return out.files;
}

/** The per-layer weight list a hand-written recipe would give `slow`: w·K·σ^l, computed here from the coefficients. */
function explicitWeights(w: number, temperature: number): string {
  const c = sensCoefficients(
    [
      { model: 'slow', file: 'slow.json', stats: STATS.get('slow.json')! },
      { model: 'quick', file: 'quick.json', stats: STATS.get('quick.json')! },
    ],
    { ...DEFAULT_SENS_CHOICES, temperature },
  );
  return `[${c.groups.map((g, l) => `{filter: "${g}.", value: ${w * c.weight[0]![l]!}}`).join(', ')}]`;
}

const recipe = (method: string, params: string, extra = SENS, globals = '{lambda: 0.8}') =>
  parseRecipe(
    `merge_method: ${method}\nbase_model: quick\nmodels:\n  - model: slow\n    parameters: ${params}\n` +
      `parameters: ${globals}\n${extra}`,
  ).recipe;

describe('a sens block on TIES and DARE', () => {
  for (const [method, params] of [
    ['ties', '{weight: 0.9, density: 0.5}'],
    ['dare_ties', '{weight: 0.9, density: 0.7}'],
    ['dare_linear', '{weight: 0.9, density: 0.7}'],
    ['task_arithmetic', '{weight: 0.9}'],
  ] as const)
    it(`${method} + sens merges the bytes of ${method} with the explicit per-layer weight lists`, async () => {
      const src = await sources();
      const compiled = compileSens(recipe(method, params), STATS, src);
      expect(compiled.recipe.mergeMethod).toBe(method);
      expect(compiled.recipe.sens).toBeUndefined();
      const explicit = recipe(
        method,
        params.replace('weight: 0.9', `weight: ${explicitWeights(0.9, 0.5)}`),
        '',
        '{lambda: 0.8, normalize: false}',
      );
      const [a, b] = await Promise.all([mergeBytes(compiled.recipe, src), mergeBytes(explicit, src)]);
      expect(a.get('model.safetensors')!.length).toBeGreaterThan(0);
      expect(Buffer.from(a.get('model.safetensors')!).equals(Buffer.from(b.get('model.safetensors')!))).toBe(true);
      // And the weights really vary by layer (the test would pass vacuously with w = 1 everywhere).
      const values = layerCoefficients(compiled).map((r) => r.values[0]!);
      expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(0.01);
    });
});

describe('sens_merging in the engine', () => {
  it('compiles to task_arithmetic with λ outside, round-trips through YAML, exports with a note', async () => {
    const r = recipe('sens_merging', '{weight: 1}');
    expect(r.sens).toMatchObject({ temperature: 0.5, sensitivity: 'elementwise', crossTask: 'distance' });
    expect(parseRecipe(emitRecipe(r)).recipe).toEqual(r);
    const c = compileSens(r, STATS, await sources());
    expect(c.recipe.mergeMethod).toBe('task_arithmetic');
    expect(c.lambda).toBe(0.8);
    const yaml = exportRecipe(c.recipe);
    expect(parseRecipe(yaml).recipe).toEqual(c.recipe);
    expect(sensExportNotes(r, c).join(' ')).toMatch(/Compiled by Merge Lab from a sens_merging recipe/);
    // The raw recipe cannot be merged by accident: the planner refuses it.
    await expect(mergeBytes(r, await sources())).rejects.toThrow(RecipeError);
    // Switches change the coefficients.
    const tensorwise = compileSens({ ...r, sens: { ...r.sens!, sensitivity: 'tensorwise' } }, STATS);
    expect(tensorwise.coefficients.weight).not.toEqual(c.coefficients.weight);
  });

  it('refuses bad blocks and statistics, naming the field, file and layer', async () => {
    const bad = (extra: string) => () => recipe('task_arithmetic', '{weight: 1}', extra);
    expect(bad('sens: {statistics: {slow: a.json}, grouping: layers}\n')).toThrow(/sens\.grouping/);
    expect(bad('sens: {statistics: {slow: a.json}, temperature: 0}\n')).toThrow(/sens\.temperature/);
    expect(() =>
      parseRecipe(`merge_method: slerp\nbase_model: quick\nmodels: [{model: slow}]\nparameters: {t: 0.5}\n${SENS}`),
    ).toThrow(/sens/);
    expect(() => compileSens(recipe('sens_merging', '{weight: 1}', ''), STATS)).toThrow(/needs a `sens` mapping/);
    expect(() => compileSens(recipe('ties', '{weight: 1, density: 0.5}', `${SENS}`), new Map())).toThrow(
      /no statistics loaded for 'slow.json'/,
    );
    const tiesNormalized = parseRecipe(
      `merge_method: ties\nbase_model: quick\nmodels: [{model: slow, parameters: {weight: 1}}]\n` +
        `parameters: {normalize: true}\n${SENS}`,
    ).recipe;
    expect(() => compileSens(tiesNormalized, STATS)).toThrow(/parameters\.normalize/);
    const src = await sources();
    const partial = stats('slow', [4, 1, 20, 0.5, 9], { quick: 3 });
    delete (partial.layers as Record<string, unknown>)['model.layers.1'];
    const missing = new Map([...STATS, ['slow.json', partial]]);
    const err = (() => {
      try {
        compileSens(recipe('sens_merging', '{weight: 1}'), missing, src);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SensStatsError);
    expect((err as SensStatsError).code).toBe('sens-missing-layer');
    expect((err as Error).message).toMatch(/slow\.json.*no sensitivity for layer 'model\.layers\.1'/);
    const swapped = new Map([...STATS, ['slow.json', STATS.get('quick.json')!]]);
    expect(() => compileSens(recipe('sens_merging', '{weight: 1}'), swapped, src)).toThrow(
      /statistics of model 'quick', not 'slow'/,
    );
  });
});
