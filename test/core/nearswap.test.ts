/**
 * issue 19: nearswap against mergekit's nearswap_merge worked out in f64 on small tensors (f32 and
 * bf16 inputs, t below, between and above the distances), on the CPU reference; and its recipe.
 */
import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../../src/core/recipe/parse';
import {
  NEARSWAP_BASE,
  NEARSWAP_OTHER,
  nearswapExpected,
  nearswapStored as stored,
  runNearswap,
} from '../helpers/nearswap-reference';

describe('nearswap on the CPU reference', () => {
  for (const dtype of ['F32', 'BF16'] as const)
    for (const t of [0.001, 0.1, 0.5, 1])
      it(`${dtype} t=${t}`, async () => {
        const got = await (await runNearswap(t, dtype)).tensor('w');
        const want = nearswapExpected(t, dtype);
        got.forEach((v, i) =>
          expect(Math.abs(v - want[i]!), `[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!))),
        );
      });

  it('t = 1 takes the other model wherever they are closer than 1; needs t and exactly one other model', async () => {
    const got = await (await runNearswap(1, 'F32')).tensor('w');
    const [base, other] = [stored(NEARSWAP_BASE, 'F32'), stored(NEARSWAP_OTHER, 'F32')];
    got.forEach((v, i) => {
      if (Math.abs(base[i]! - other[i]!) <= 1) expect(v, `[${i}]`).toBe(other[i]);
      else expect(v, `[${i}]`).toBeCloseTo(base[i]! + Math.sign(other[i]! - base[i]!), 6); // moves by t = 1
    });
    expect(() => parseRecipe('merge_method: nearswap\nbase_model: a\nmodels: [{model: b}]')).toThrow(
      /nearswap needs t/,
    );
    expect(() =>
      parseRecipe('merge_method: nearswap\nbase_model: a\nmodels: [{model: b}, {model: c}]\nparameters: {t: 0.1}'),
    ).toThrow(/exactly 1 models besides the base_model \(got 2\)/);
  });
});
