/** AIM post-step: hand-computed cases through the real merge entry point, recipe handling. */
import { describe, expect, it } from 'vitest';
import type { RecipeError } from '../../src/core/errors';
import { type ActivationStats, parseActivationStats } from '../../src/core/merge/activation-stats';
import { emitRecipe, mergekitWarnings, parseRecipe } from '../../src/core/recipe/parse';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';

const RECIPE = `merge_method: task_arithmetic
base_model: s1
models: [{model: s2, parameters: {weight: 0.5}}]
aim: {omega: 0.4, calibration: s1-stats.json}`;

const stats: ActivationStats = {
  format: 'merge-lab-activation-stats',
  version: 1,
  model: 's1',
  calibration: { set: 'toy', samples: 2, tokens: 10 },
  channels: { 'model.layers.0.mlp.down_proj.weight': [1, 2, 4] },
};

async function pair() {
  const s1 = await valuesCheckpoint('s1', {
    'model.embed_tokens.weight': { shape: [2, 3], values: [0, 0, 0, 0, 0, 0] },
    'model.layers.0.mlp.down_proj.weight': { shape: [2, 3], values: [0, 0, 0, 1, 1, 1] },
    'model.norm.weight': { shape: [3], values: [1, 1, 1] },
  });
  const s2 = await valuesCheckpoint('s2', {
    'model.embed_tokens.weight': { shape: [2, 3], values: [2, 2, 2, 2, 2, 2] },
    'model.layers.0.mlp.down_proj.weight': { shape: [2, 3], values: [2, 2, 2, 3, 3, 3] },
    'model.norm.weight': { shape: [3], values: [3, 3, 3] },
  });
  return [s1, s2];
}

describe('AIM', () => {
  it('scales the merged task vector by 1 − (1−ω)·s_j per input column; embeddings and norms untouched', async () => {
    // TA δ = 0.5·2 = 1 everywhere; s = [0.25, 0.5, 1] → factors [0.85, 0.7, 0.4]
    for (const chunkElements of [undefined, 2]) {
      const r = await runMerge(RECIPE, await pair(), {
        activationStats: stats,
        ...(chunkElements ? { chunkElements } : {}),
      });
      expect([...(await r.tensor('model.layers.0.mlp.down_proj.weight'))].map((v) => +v.toFixed(6))).toEqual([
        0.85, 0.7, 0.4, 1.85, 1.7, 1.4,
      ]);
      expect([...(await r.tensor('model.embed_tokens.weight'))]).toEqual([1, 1, 1, 1, 1, 1]);
      expect([...(await r.tensor('model.norm.weight'))]).toEqual([2, 2, 2]);
    }
  });

  it('needs statistics, names weights without them, and checks its recipe fields', async () => {
    await expect(runMerge(RECIPE, await pair())).rejects.toThrow(/aim\.calibration.*s1-stats\.json/);
    const r = await runMerge(RECIPE, await pair(), { activationStats: { ...stats, channels: {} } });
    expect(r.summary.warnings.map((w) => w.message).join()).toMatch(
      /no activation statistics for 'model\.layers\.0\.mlp\.down_proj\.weight'/,
    );
    const field = (y: string) => {
      try {
        parseRecipe(y);
      } catch (e) {
        return (e as RecipeError).field;
      }
    };
    expect(field(RECIPE.replace('omega: 0.4', 'omega: 2'))).toBe('aim.omega');
    expect(field(RECIPE.replace(', calibration: s1-stats.json', ''))).toBe('aim.calibration');
    expect(field('merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\naim: {calibration: x}')).toBe(
      'aim',
    );
  });

  it('exports to mergekit YAML with a clear warning that mergekit cannot apply it', () => {
    const { recipe } = parseRecipe(RECIPE);
    expect(parseRecipe(emitRecipe(recipe)).recipe).toEqual(recipe);
    expect(
      mergekitWarnings(recipe)
        .map((w) => w.message)
        .join(),
    ).toMatch(/mergekit cannot apply activation-informed merging/);
  });

  it('rejects malformed statistics files by name', () => {
    expect(() => parseActivationStats('{"format":"x"}', 'stats.json')).toThrow(
      /stats\.json: not a merge-lab-activation-stats v1 file/,
    );
    expect(() => parseActivationStats(JSON.stringify({ ...stats, channels: { w: [1, -1] } }), 's.json')).toThrow(
      /channels\['w'\]/,
    );
  });
});
