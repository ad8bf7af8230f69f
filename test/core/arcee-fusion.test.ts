/**
 * issue 19: arcee_fusion against mergekit's formula worked out in f64 (test/helpers/arcee-fusion-reference.ts):
 * row-wise KL importance, the median + 1.5 IQR threshold, the swapped elements; f32 and bf16, whole and chunked.
 */
import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../../src/core/recipe/parse';
import { FUSION_SHAPES, fusionRef, runFusion } from '../helpers/arcee-fusion-reference';

describe('arcee_fusion on the CPU reference', () => {
  for (const dtype of ['F32', 'BF16'] as const)
    it(`${dtype} inputs, whole and in chunks of 5`, async () => {
      const whole = await runFusion(dtype);
      const chunked = await runFusion(dtype, { chunkElements: 5 });
      for (const name of Object.keys(FUSION_SHAPES)) {
        const { values, swapped } = fusionRef(name, dtype);
        expect(swapped, name).toBeGreaterThan(0);
        expect(swapped, name).toBeLessThan(values.length);
        for (const r of [whole, chunked]) {
          const got = await r.tensor(name);
          got.forEach((v, i) =>
            expect(Math.abs(v - values[i]!), `${name}[${i}]`).toBeLessThanOrEqual(
              1e-6 * Math.max(1, Math.abs(values[i]!)),
            ),
          );
        }
        expect(Buffer.from(await chunked.raw(name)).equals(Buffer.from(await whole.raw(name))), name).toBe(true);
      }
    });

  it('takes exactly one model besides the base and no parameters', () => {
    expect(() => parseRecipe('merge_method: arcee_fusion\nbase_model: a\nmodels: [{model: b}, {model: c}]')).toThrow(
      /exactly 1/,
    );
    expect(
      parseRecipe(
        'merge_method: arcee_fusion\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1}}]',
      ).warnings.map((w) => w.code),
    ).toEqual(['unused-parameter']);
  });
});
