/** The method and parameter tables are consistent, and the parser, the export and the engine read them. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_OVERSAMPLE, DEFAULT_POWER_ITERS } from '../../src/core/linalg/rsvd';
import { PARAMETERS, type ParameterDef, type ParameterName } from '../../src/core/merge/methods/parameters';
import { METHODS, methodParameterNames, numberDefault, parameterDefault } from '../../src/core/merge/methods/registry';
import { DEFAULT_SVD_RANK } from '../../src/core/merge/methods/svd-common';
import { mergekitWarnings, parseRecipeObject } from '../../src/core/recipe/parse';
import { MERGE_METHODS, type MergeMethodName } from '../../src/core/recipe/types';

const names = Object.keys(PARAMETERS) as ParameterName[];
const def = (n: ParameterName): ParameterDef => PARAMETERS[n];

/** A valid recipe for `method` with `extra` top-level parameters. */
function recipe(method: MergeMethodName, extra: Record<string, unknown> = {}, more: Record<string, unknown> = {}) {
  const weighted = METHODS[method].modelParameters.includes('weight');
  return {
    merge_method: method,
    base_model: 'a',
    // As many models besides the base as the method merges at least (model_stock, nuslerp: two).
    models: ['b', 'c'].slice(0, Math.max(1, METHODS[method].others?.min ?? 1)).map((model) => ({
      model,
      ...(weighted ? { parameters: { weight: 1 } } : {}),
    })),
    // Required global parameters (slerp's and nearswap's t) at 0.5.
    parameters: {
      ...Object.fromEntries(
        METHODS[method].globalParameters.filter((n) => METHODS[method].parameters[n]?.required).map((n) => [n, 0.5]),
      ),
      ...extra,
    },
    ...more,
  };
}

/** A value the parser accepts for a parameter: its default, else the middle of its range. */
function validValue(n: ParameterName): number | boolean {
  const p = def(n);
  if (p.type === 'boolean') return true;
  if (typeof p.default === 'number') return p.default;
  const [lo, hi] = p.range!;
  return p.type === 'integer' ? Math.ceil(lo) : (lo + Math.min(hi, 1)) / 2;
}

describe('parameter table', () => {
  it('describes every parameter consistently: defaults and sliders inside the accepted range', () => {
    for (const n of names) {
      const p = def(n);
      expect(p.name).toBe(n);
      expect(p.description.length).toBeGreaterThan(0);
      if (p.type === 'boolean') continue;
      const [lo, hi] = p.range!;
      for (const v of [p.default, p.initial, p.slider?.min, p.slider?.max].filter((x) => typeof x === 'number')) {
        expect(v).toBeGreaterThanOrEqual(lo);
        expect(v).toBeLessThanOrEqual(hi);
      }
      if (p.type === 'integer') expect(p.slider?.step).toBe(1);
    }
  });

  it('lists per-model parameters first in every method row, all from the table', () => {
    for (const m of MERGE_METHODS) {
      const spec = METHODS[m];
      expect(spec.name).toBe(m);
      const scopes = methodParameterNames(spec).map((n) => def(n).scope);
      expect(scopes).toEqual([...scopes].sort((a, b) => (a === b ? 0 : a === 'model' ? -1 : 1)));
      for (const n of methodParameterNames(spec)) {
        const d = parameterDefault(spec, n);
        if (typeof d === 'number') expect(d).toBeGreaterThanOrEqual(def(n).range![0]);
      }
    }
  });

  it('is what the parser reads: a method keeps its own parameters, and warns about and drops the others', () => {
    for (const m of MERGE_METHODS) {
      expect(() => parseRecipeObject(recipe(m)), m).not.toThrow();
      const own = new Set(methodParameterNames(METHODS[m]));
      for (const n of names) {
        const { recipe: r, warnings } = parseRecipeObject(recipe(m, { [n]: validValue(n) }));
        const codes = warnings.map((w) => w.code);
        if (def(n).labIgnores) expect(codes, `${m}.${n}`).toEqual(['lab-ignores-key']);
        else if (own.has(n)) {
          expect(r.parameters[n], `${m}.${n}`).toBe(validValue(n));
          expect(codes, `${m}.${n}`).toEqual(METHODS[m].parameters[n]?.inert ? ['unused-parameter'] : []);
        } else {
          expect(r.parameters[n], `${m}.${n}`).toBeUndefined();
          expect(warnings, `${m}.${n}`).toEqual([
            expect.objectContaining({ code: 'unused-parameter', field: `parameters.${n}` }),
          ]);
          expect(warnings[0]!.message, `${m}.${n}`).toContain(`'${n}'`);
          expect(warnings[0]!.message, `${m}.${n}`).toContain(m);
        }
      }
    }
  });

  it('rejects fractions for integer parameters and values outside the range', () => {
    expect(() => parseRecipeObject(recipe('tsv', { rank: 2.5 }))).toThrow(/whole number/);
    expect(() => parseRecipeObject(recipe('tsv', { oversample: 2000 }))).toThrow(/outside \[0, 1024\]/);
    expect(() => parseRecipeObject(recipe('ties', { normalize: 1 }))).toThrow(/true or false/);
  });

  it('matches the defaults the engine uses', () => {
    expect(DEFAULT_OVERSAMPLE).toBe(PARAMETERS.oversample.default);
    expect(DEFAULT_POWER_ITERS).toBe(PARAMETERS.power_iters.default);
    // tsv, twin and low-rank TA take the common rank default in the engine (svd-common.ts).
    for (const m of ['tsv', 'twin', 'low_rank_task_arithmetic'] as const)
      expect(DEFAULT_SVD_RANK).toBe(numberDefault(METHODS[m], 'rank'));
    expect(() => numberDefault(METHODS.ties, 'weight')).toThrow(/no numeric default/);
    expect(METHODS.ties.defaultNormalize).toBe(true);
    expect(METHODS.dare_linear.defaultRescale).toBe(true);
    expect(METHODS.breadcrumbs.defaultRescale).toBe(false);
  });
});

describe('typed recipe warnings', () => {
  it('names the ignored key and its field', () => {
    const { warnings } = parseRecipeObject(recipe('ties', { int8_mask: true }));
    expect(warnings).toEqual([
      {
        code: 'lab-ignores-key',
        field: 'parameters.int8_mask',
        message: 'parameters.int8_mask is a mergekit memory option; Merge Lab ignores it',
      },
    ]);
  });

  it('says on export what mergekit does not have, ignores, or does differently', () => {
    const codes = (doc: unknown) => mergekitWarnings(parseRecipeObject(doc).recipe).map((w) => [w.code, w.field]);
    expect(codes(recipe('ties'))).toEqual([]);
    expect(codes(recipe('tsv', { rank: 8 }))).toEqual([['mergekit-lacks-method', 'merge_method']]);
    expect(codes(recipe('dare_ties', {}, { random_seed: 3, vocab_policy: 'base' }))).toEqual([
      ['mergekit-ignores-key', 'vocab_policy'],
      ['mergekit-differs', 'random_seed'],
    ]);
    expect(codes(recipe('ties', {}, { aim: { omega: 0.4, calibration: 's.json' } }))).toEqual([
      ['mergekit-ignores-key', 'aim'],
    ]);
  });
});
