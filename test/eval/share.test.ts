import { describe, expect, it } from 'vitest';
import { RecipeError } from '../../src/core/errors';
import { parseRecipe } from '../../src/core/recipe/parse';
import { decodeShare, encodeShare } from '../../src/ui/state/share';

describe('shareable URL', () => {
  it('round-trips the recipe and settings through the fragment', () => {
    const { recipe } = parseRecipe(
      'merge_method: ties\nbase_model: demo-quick\nmodels: [{model: demo-slow, parameters: {weight: 1, density: [0.1, 0.3]}}]\nrandom_seed: 9',
    );
    const hash = encodeShare({ recipe, settings: { set: 'arith-heldout', limit: 40, maxNewTokens: 256 } });
    expect(hash).toMatch(/^#lab=[A-Za-z0-9_-]+$/);
    const back = decodeShare(hash)!;
    expect(back.recipe).toEqual(recipe);
    expect(back.settings).toEqual({ set: 'arith-heldout', limit: 40, maxNewTokens: 256 });
    expect(decodeShare('#other')).toBeUndefined();
  });
  it('validates a shared recipe like a file', () => {
    const bad = `#lab=${Buffer.from(JSON.stringify({ v: 1, recipe: { merge_method: 'ties', models: [{ model: 'a' }] } })).toString('base64url')}`;
    expect(() => decodeShare(bad)).toThrow(RecipeError);
  });
});
