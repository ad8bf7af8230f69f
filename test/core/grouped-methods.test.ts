/**
 * issue 19: model_stock and nuslerp against mergekit's formulas worked out in f64
 * (test/helpers/grouped-reference.ts): per tensor, per row (filter_wise / nuslerp without flatten)
 * and per column (nuslerp_row_wise), with and without a base, f32 and bf16 inputs, colinear task
 * vectors; whole and in chunks that split rows; and the model counts each takes.
 */
import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../../src/core/recipe/parse';
import { GROUPED_CASES, GROUPED_SHAPES, groupedRef } from '../helpers/grouped-reference';
import { runMerge } from '../helpers/merge-harness';

describe('model_stock and nuslerp on the CPU reference', () => {
  for (const c of GROUPED_CASES)
    it(c.name, async () => {
      const whole = await runMerge(c.yaml, await c.checkpoints());
      const chunked = await runMerge(c.yaml, await c.checkpoints(), { chunkElements: 3 });
      for (const name of Object.keys(GROUPED_SHAPES)) {
        const want = groupedRef(c, name);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        for (const [label, r] of [
          ['whole', whole],
          ['chunked', chunked],
        ] as const)
          (await r.tensor(name)).forEach((v, i) =>
            expect(Math.abs(v - want[i]!), `${label} ${name}[${i}]`).toBeLessThanOrEqual(2e-6 * scale),
          );
      }
    });

  it('model_stock needs two models besides the base; nuslerp exactly two', () => {
    expect(() =>
      parseRecipe('merge_method: model_stock\nbase_model: base\nmodels: [{model: base}, {model: a}]'),
    ).toThrow(/model_stock merges at least 2 models besides the base_model \(got 1\)/);
    expect(() =>
      parseRecipe(
        'merge_method: nuslerp\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}, {model: c, parameters: {weight: 1}}]',
      ),
    ).toThrow(/nuslerp merges exactly 2 models besides the base_model \(got 3\)/);
    expect(() =>
      parseRecipe('merge_method: nuslerp\nmodels: [{model: a}, {model: b, parameters: {weight: 1}}]'),
    ).toThrow(/needs a weight/);
  });
});
