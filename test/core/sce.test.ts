/**
 * issue 19: SCE against mergekit's sce_merge worked out in f64 (test/helpers/sce-reference.ts):
 * the variance selection (exact kept count, ties lowest index first), mean-square weights and sign
 * erase, on f32 and bf16 inputs, whole and in chunks; and the recipe it takes.
 */
import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../../src/core/recipe/parse';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';
import { SCE_CASES, SCE_SHAPES, sceRef, sceStored } from '../helpers/sce-reference';

describe('SCE on the CPU reference', () => {
  for (const c of SCE_CASES)
    it(c.name, async () => {
      const r = await runMerge(c.yaml, await c.checkpoints());
      const chunked = await runMerge(c.yaml, await c.checkpoints(), { chunkElements: 3 });
      for (const name of Object.keys(SCE_SHAPES)) {
        const want = sceRef(c, name);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        // Chunked (3 elements: rows split): the same selection; the weights' dot products are summed per
        // chunk, so agreement is to f32 rounding rather than bytes.
        for (const [label, out] of [
          ['whole', r],
          ['chunked', chunked],
        ] as const)
          (await out.tensor(name)).forEach((v, i) =>
            expect(Math.abs(v - want[i]!), `${label} ${name}[${i}]`).toBeLessThanOrEqual(2e-6 * scale),
          );
      }
      if (c.selectTopk === 0) expect([...(await r.tensor('w'))]).toEqual(sceStored(c.dtype, 'base', 'w'));
    });

  it('select_topk keeps exactly int(k · nonzero-variance) elements when the variances tie', async () => {
    // Two models: δ_a = [1, 1, 1, 1, 0, 0], δ_b = −δ_a: variance 1 at four elements, 0 at two.
    const one = (n: string, v: number[]) => valuesCheckpoint(n, { w: { shape: [6], values: v } });
    const r = await runMerge(
      'merge_method: sce\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {select_topk: 0.5}',
      [
        await one('base', [0, 0, 0, 0, 0, 0]),
        await one('a', [1, 1, 1, 1, 0, 0]),
        await one('b', [-1, -1, -1, -1, 0, 0]),
      ],
    );
    // int(0.5 · 4) = 2 selected: indices 0 and 1 (lowest first); there γ = + (the sum is 0), so only a counts.
    expect([...(await r.tensor('w'))]).toEqual([1, 1, 0, 0, 0, 0]);
  });

  it('takes select_topk, warns on a per-model weight (SCE computes its own)', () => {
    const { recipe, warnings } = parseRecipe(
      'merge_method: sce\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.5}}, {model: b}]\nparameters: {select_topk: 0.2}',
    );
    expect(recipe.parameters).toEqual({ select_topk: 0.2 });
    expect(warnings.map((w) => [w.code, w.field])).toEqual([['unused-parameter', 'models[0].parameters.weight']]);
    expect(() => parseRecipe('merge_method: sce\nbase_model: base\nmodels: [{model: base}]')).toThrow(
      /besides the base/,
    );
  });
});
