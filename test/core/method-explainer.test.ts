/**
 * issue 19: the Recipe step's toy explanation of every method (src/core/merge/explain). For each
 * method: the merged toy row equals what the merge entry point produces on the same toy tensors
 * (checkpoints and recipe written by test/helpers/explainer-cases.ts), changing a parameter changes
 * the toy where it should, AIM's post-step shows on it, and every method in the registry has an
 * explanation. method-explainer-steps.test.ts checks that the rows shown account for the result.
 */
import { describe, expect, it } from 'vitest';
import { EXPLAINERS, explainRecipe } from '../../src/core/merge/explain/explain';
import { TOY_ACTIVATIONS, TOY_BASE } from '../../src/core/merge/explain/toy';
import { METHODS } from '../../src/core/merge/methods/registry';
import { MERGE_METHODS } from '../../src/core/recipe/types';
import { BASE32, CASES, close, engineToy, explained, minus, rowOf } from '../helpers/explainer-cases';

describe('toy explanations', () => {
  it('every registry method has an explainer and a case here', () => {
    for (const m of MERGE_METHODS) {
      expect(EXPLAINERS[m], m).toBeTypeOf('function');
      expect(CASES[m], m).toBeDefined();
    }
    expect(Object.keys(METHODS).sort()).toEqual([...MERGE_METHODS].sort());
  });

  for (const m of MERGE_METHODS.filter((n) => n !== 'passthrough'))
    it(`${m}: the merged toy row is the engine's merge of the toy${CASES[m].changed ? ', and follows its parameter' : ''}`, async () => {
      const c = CASES[m];
      const x = explained(await explainRecipe(c.recipe));
      const engine = await engineToy(c.recipe, c.count);
      const want = x.mergedIsDelta ? Float32Array.from(engine, (v, i) => v - Math.fround(TOY_BASE[i]!)) : engine;
      expect(x.mergedIsDelta).toBe(METHODS[m].family === 'task_vector');
      close(x.merged.values, want);
      expect(x.summary.length).toBeGreaterThan(20);
      expect(x.steps.length).toBeGreaterThan(0);
      if (c.changed) {
        const y = explained(await explainRecipe(c.changed));
        expect(y.merged.values, `${m}: the toy ignores the changed parameter`).not.toEqual(x.merged.values);
        close(
          y.merged.values,
          Array.from(await engineToy(c.changed, c.count), (v, i) =>
            y.mergedIsDelta ? v - Math.fround(TOY_BASE[i]!) : v,
          ),
        );
      }
    });

  it('AIM: the merged row is the engine merge with AIM on toy statistics, the method row × the AIM factor', async () => {
    for (const method of ['ties', 'model_stock', 'nearswap'] as const) {
      const plain = CASES[method].recipe;
      const recipe = { ...plain, aim: { omega: 0.4, calibration: 'stats.json' } };
      const x = explained(await explainRecipe(recipe));
      const y = explained(await explainRecipe(plain));
      const engine = await engineToy(recipe, CASES[method].count, TOY_ACTIVATIONS);
      close(x.merged.values, x.mergedIsDelta ? minus(engine, BASE32) : engine);
      const factor = rowOf(x, /^AIM factor$/)[0]!.values;
      const max = Math.max(...TOY_ACTIVATIONS);
      factor.forEach((f, e) => expect(f).toBeCloseTo(1 - 0.6 * (TOY_ACTIVATIONS[e % 4]! / max), 6));
      const offset = (v: readonly number[]) => (x.mergedIsDelta ? v : minus(v, BASE32));
      close(
        offset(x.merged.values),
        offset(y.merged.values).map((d, e) => d * factor[e]!),
        1e-6,
      );
      expect(x.notes.join(' ')).toMatch(/toy activation statistics/);
      const z = explained(await explainRecipe({ ...recipe, aim: { omega: 0.9, calibration: 'stats.json' } }));
      expect(z.merged.values).not.toEqual(x.merged.values);
    }
  });
});
