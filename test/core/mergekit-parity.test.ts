/**
 * issue 19: the lab's output against mergekit's formulas (test/helpers/mergekit-reference.ts, an
 * independent f64 statement of mergekit's GTA) on the CPU reference, plus hand-worked small cases,
 * exact kept counts, chunk invariance of the L1 rescale, and the recipe warnings.
 */
import { describe, expect, it } from 'vitest';
import { sweepRecipes } from '../../src/core/eval/sweep';
import { absDigits } from '../../src/core/kernels/abs-digits';
import { sparsifyValues } from '../../src/core/merge/methods/sparsify-values';
import { exportRecipe, mergekitWarnings, parseRecipe, runsUnchangedInMergekit } from '../../src/core/recipe/parse';
import { PARITY_CASES, expectMatchesReference, expectedTensors, runCase } from '../helpers/mergekit-cases';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';

const one = (name: string, values: number[]) => valuesCheckpoint(name, { w: { shape: [values.length], values } });
const rounded = (x: Float32Array) => [...x].map((v) => Math.round(v * 1e6) / 1e6);

describe('mergekit parity on the CPU reference', () => {
  for (const c of PARITY_CASES)
    it(c.name, async () => {
      await expectMatchesReference(c, await runCase(c), c.name);
      // Chunked (odd chunk sizes): the whole-tensor selections and L1 sums give the same bytes.
      const whole = await runCase(c);
      const chunked = await runCase(c, { chunkElements: 7 });
      for (const name of Object.keys(expectedTensors(c)))
        expect(Buffer.from(await chunked.raw(name)).equals(Buffer.from(await whole.raw(name))), name).toBe(true);
    });
});

describe('rescale: × ‖δ‖₁ / ‖sparsified δ‖₁ per tensor', () => {
  const base = [0, 0, 0, 0, 0];
  const a = [3, -1, 2, 0.5, -4];

  it('TIES: keeps the top 3 of |δ| and multiplies them by 10.5 / 9', async () => {
    const r = await runMerge(
      'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.6}}]\nparameters: {rescale: true}',
      [await one('base', base), await one('a', a)],
    );
    // ‖δ‖₁ = 3+1+2+0.5+4 = 10.5; kept 3, 2, −4: ‖·‖₁ = 9; normalize divides by the one weight 1.
    const k = 10.5 / 9;
    expect(rounded(await r.tensor('w'))).toEqual(rounded(Float32Array.from([3 * k, 0, 2 * k, 0, -4 * k])));
  });

  it('breadcrumbs: drops the top int(γn), keeps int(density·n), rescales by the L1 ratio; λ and weight apply after', async () => {
    const r = await runMerge(
      'merge_method: breadcrumbs\nbase_model: base\nmodels: [{model: a, parameters: {weight: -0.5, density: 0.4, gamma: 0.2}}]\nparameters: {rescale: true, lambda: 2}',
      [await one('base', base), await one('a', a)],
    );
    // n = 5: top int(0.2·5) = 1 (|−4|) dropped; next int(0.4·5) = 2 kept: 3 and 2 (L1 5); ratio 10.5/5 = 2.1.
    // θ = 0 + λ·w·2.1·[3, 0, 2, 0, 0] = 2 · (−0.5) · 2.1 · …
    expect(rounded(await r.tensor('w'))).toEqual(rounded(Float32Array.from([-6.3, 0, -4.2, 0, 0])));
  });

  it('leaves the mask unscaled when the kept L1 norm is below 1e-7, as mergekit does', async () => {
    const r = await runMerge(
      'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.2}}]\nparameters: {rescale: true}',
      [await one('base', [0, 0, 0, 0, 0]), await one('a', [4e-8, 1e-8, 0, 0, 0])],
    );
    // k = 1 keeps 4e-8: ‖kept‖₁ = 4e-8 < 1e-7, so no rescale (5e-8 / 4e-8 would be applied otherwise).
    expect([...(await r.tensor('w'))]).toEqual([Math.fround(4e-8), 0, 0, 0, 0]);
  });

  it('DARE takes the L1 ratio, not 1/density: with equal |δ| the kept elements carry the whole norm', async () => {
    const n = 4000;
    const r = await runMerge(
      'merge_method: dare_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.3}}]\nrandom_seed: 9',
      [await one('base', new Array(n).fill(0)), await one('a', new Array(n).fill(2))],
    );
    const out = await r.tensor('w');
    const kept = [...out].filter((v) => v !== 0).length;
    // Σ out = ‖δ‖₁ = 2n exactly in value, whatever the mask drew.
    expect([...out].reduce((s, v) => s + v, 0)).toBeCloseTo(2 * n, 2);
    expect(out.find((v) => v !== 0)).toBeCloseTo((2 * n) / kept, 4);
    expect(Math.abs(out.find((v) => v !== 0)! - 2 / 0.3)).toBeGreaterThan(1e-3); // not 1/density
  });
});

describe('exact kept counts', () => {
  it('TIES keeps int(density·n) of a bf16 tensor full of ties, lowest index first', async () => {
    const n = 1000;
    const values = Array.from({ length: n }, (_, i) => [0.5, -0.5, 0.25, 1][i % 4]!);
    for (const density of [0.1, 0.33, 0.5, 0.77]) {
      const r = await runMerge(
        `merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: ${density}}}]\ndtype: float32`,
        [
          await valuesCheckpoint('base', { w: { shape: [n], values: new Array(n).fill(0) } }, 'BF16'),
          await valuesCheckpoint('a', { w: { shape: [n], values } }, 'BF16'),
        ],
        { chunkElements: 97 },
      );
      const out = await r.tensor('w');
      const k = Math.floor(density * n);
      expect([...out].filter((v) => v !== 0).length, `density ${density}`).toBe(k);
      // The order: the 250 ones (indices ≡ 3 mod 4), the 500 at |0.5| (≡ 0, 1), the 250 quarters
      // (≡ 2), each group lowest index first; the first k are kept.
      const idx = Array.from({ length: n }, (_, i) => i);
      const order = [
        ...idx.filter((i) => i % 4 === 3),
        ...idx.filter((i) => i % 4 < 2),
        ...idx.filter((i) => i % 4 === 2),
      ];
      const want = new Set(order.slice(0, k));
      out.forEach((v, i) => expect(v !== 0, `density ${density} [${i}]`).toBe(want.has(i)));
    }
  });

  it('breadcrumbs drops exactly int(γ·n) at its upper cut, ties included', async () => {
    const values = [2, 2, 2, 1, 1, 1, 1, 1, 0.5, 0.5];
    const r = await runMerge(
      'merge_method: breadcrumbs\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.4, gamma: 0.2}}]',
      [await one('base', new Array(10).fill(0)), await one('a', values)],
    );
    // Ranks (|δ| desc, index asc): 0,1,2 (2s), 3..7 (1s), 8,9. Drop ranks 0–1, keep ranks 2–5: indices 2, 3, 4, 5.
    expect([...(await r.tensor('w'))]).toEqual([0, 0, 2, 1, 1, 1, 0, 0, 0, 0]);
  });
});

describe('recipe warnings (mergekit ignores what a method does not read)', () => {
  const warningsOf = (yaml: string) => parseRecipe(yaml).warnings.map((w) => [w.code, w.field, w.message]);

  it('density on task_arithmetic: accepted, named with the method, dropped', () => {
    const { recipe, warnings } = parseRecipe(
      'merge_method: task_arithmetic\nbase_model: a\nmodels: [{model: b, parameters: {weight: 0.7, density: 0.2}}]',
    );
    expect(recipe.models[0]!.parameters).toEqual({ weight: 0.7 });
    expect(warnings).toEqual([
      expect.objectContaining({ code: 'unused-parameter', field: 'models[0].parameters.density' }),
    ]);
    expect(warnings[0]!.message).toMatch(/'density'.*task_arithmetic/);
  });

  it('a global parameter under a model, rescale on task_arithmetic', () => {
    expect(
      warningsOf(
        'merge_method: ties\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1, t: 0.5}}]\nparameters: {rescale: true}',
      ),
    ).toEqual([
      [
        'unused-parameter',
        'models[0].parameters.t',
        "models[0].parameters.t: 't' is not a per-model parameter of ties (set it under the top-level parameters); ignored (mergekit ignores it too)",
      ],
    ]);
    expect(
      warningsOf(
        'merge_method: task_arithmetic\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1}}]\nparameters: {rescale: true}',
      ).map((w) => w[0]),
    ).toEqual(['unused-parameter']);
  });

  it('likely typos get the suggestion', () => {
    const { warnings } = parseRecipe(
      'merge_method: ties\nbase_model: a\nmodels: [{model: b, parameters: {wieght: 1, weight: 1, desnity: 0.2}}]\nparameters: {lamda: 2, zzz: 1}',
    );
    expect(warnings.map((w) => [w.field, w.code, w.suggestion])).toEqual([
      ['models[0].parameters.wieght', 'unknown-parameter', 'weight'],
      ['models[0].parameters.desnity', 'unknown-parameter', 'density'],
      ['parameters.lamda', 'unknown-parameter', 'lambda'],
      ['parameters.zzz', 'unknown-parameter', undefined],
    ]);
    expect(warnings[1]!.message).toContain("did you mean 'density'?");
  });

  it('an unknown method lists the known ones', () => {
    expect(() => parseRecipe('merge_method: magic\nmodels: [{model: a}]')).toThrow(
      /"magic" is not supported; choose one of linear, task_arithmetic, ties, .*slerp/,
    );
  });
});

describe('what mergekit does differently, on export', () => {
  const recipe = (yaml: string) => parseRecipe(yaml).recipe;
  const ties = 'merge_method: ties\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1, density: 0.2}}]';

  it('names the compute dtype for 16-bit outputs, DARE masks always, breadcrumbs with γ = 0', () => {
    expect(runsUnchangedInMergekit(recipe(ties))).toBe(true);
    expect(mergekitWarnings(recipe(`${ties}\ndtype: bfloat16`)).map((w) => [w.code, w.field])).toEqual([
      ['mergekit-differs', 'dtype'],
    ]);
    expect(runsUnchangedInMergekit(recipe(`${ties}\ndtype: bfloat16`))).toBe(false);
    // Without a dtype mergekit computes in the base model's: bf16 checkpoints differ too, f32 ones do not.
    expect(runsUnchangedInMergekit(recipe(ties), { baseDtype: 'BF16' })).toBe(false);
    expect(runsUnchangedInMergekit(recipe(`${ties}\ndtype: float32`), { baseDtype: 'BF16' })).toBe(true);
    expect(mergekitWarnings(recipe(ties.replace('ties', 'dare_linear'))).map((w) => [w.code, w.field])).toEqual([
      ['mergekit-differs', 'random_seed'],
    ]);
    const crumbs =
      'merge_method: breadcrumbs\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1, density: 0.5, gamma: [0.1, 0]}}]';
    expect(mergekitWarnings(recipe(crumbs)).map((w) => w.field)).toEqual(['gamma']);
  });

  it('exportRecipe heads the YAML with the notes as comments, and the YAML still parses to the same recipe', () => {
    const r = recipe(`${ties}\ndtype: bfloat16\nvocab_policy: base`);
    const text = exportRecipe(r);
    const comments = text.split('\n').filter((l) => l.startsWith('# '));
    expect(comments[1]).toMatch(/^# Compute dtype: mergekit computes in the recipe dtype .*float32/);
    expect(comments.some((c) => c.includes('vocab_policy'))).toBe(true);
    expect(parseRecipe(text).recipe).toEqual(r);
  });

  it('a sweep over a parameter the method does not read is refused', () => {
    const ta = recipe('merge_method: task_arithmetic\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1}}]');
    expect(() => sweepRecipes(ta, 'density', [0.2])).toThrow(/cannot sweep 'density'.*task_arithmetic/);
    expect(sweepRecipes(recipe(ties), 'density', [0.3])[0]!.recipe.models[0]!.parameters.density).toBe(0.3);
  });
});

describe('fixed-point L1 digits (kernels/abs-digits.ts)', () => {
  it('gives ⌊|x| / 2^low⌋ mod 2^16 from the bits', () => {
    const x = Float32Array.from([1.5, -1.5, 3 * 2 ** -20, 65537, NaN, 2 ** -149]);
    // low −16: 1.5·2^16 = 98304 → mod 2^16 = 32768; 3·2^-20·2^16 < 1 → 0; 65537·2^16 mod 2^16 = 0.
    // low −32: 3·2^-20·2^32 = 12288. low 0: 65537 mod 2^16 = 1. low 16: ⌊65537 / 2^16⌋ = 1.
    expect([...absDigits(x, -16)]).toEqual([32768, 32768, 0, 0, 0, 0]);
    expect([...absDigits(x, 0)]).toEqual([1, 1, 0, 1, 0, 0]);
    expect([...absDigits(x, -32)]).toEqual([0, 0, 12288, 0, 0, 0]);
    expect([...absDigits(x, 16)]).toEqual([0, 0, 0, 1, 0, 0]);
    expect([...absDigits(x, -149)]).toEqual([0, 0, 0, 0, 0, 1]);
  });
});

describe('sparsifyValues (the toy tensor): the engine’s semantics on a small vector', () => {
  it('TIES, breadcrumbs with ties at both cuts, rescale', () => {
    const x = Float32Array.from([2, -2, 2, 1, -1, 1, 1, 0.5]);
    // TIES k = int(0.5·8) = 4: 2, −2, 2 then the first 1 (index 3).
    expect([...sparsifyValues(x, 'magnitude', { density: 0.5, gamma: 0, rescale: false })]).toEqual([
      2, -2, 2, 1, 0, 0, 0, 0,
    ]);
    // breadcrumbs: drop the top int(0.25·8) = 2 (indices 0, 1), keep the next 3: index 2, 3, 4.
    expect([...sparsifyValues(x, 'magnitude_outliers', { density: 0.375, gamma: 0.25, rescale: false })]).toEqual([
      0, 0, 2, 1, -1, 0, 0, 0,
    ]);
    // rescale: ‖x‖₁ = 10.5, kept 7 → × 1.5.
    expect([...sparsifyValues(x, 'magnitude', { density: 0.5, gamma: 0, rescale: true })]).toEqual([
      3, -3, 3, 1.5, 0, 0, 0, 0,
    ]);
  });
});
