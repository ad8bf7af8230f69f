/** Each method against small hand-computed cases, through the real merge entry point. */
import { describe, expect, it } from 'vitest';
import { randomU32, daresKeepThreshold, fnv1a, lowbias32 } from '../../src/core/kernels/rng';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';

const w = (values: number[]) => ({ w: { shape: [values.length], values } });
const models = (vals: Record<string, number[]>) =>
  Promise.all(Object.entries(vals).map(([n, v]) => valuesCheckpoint(n, w(v))));
const arr = (x: Float32Array) => [...x].map((v) => Math.round(v * 1e6) / 1e6);

describe('TIES', () => {
  const ms = () => models({ base: [0, 0, 0, 0, 0], a: [3, -1, 2, 0.5, -4], b: [-1.5, -2, 1, 0.2, 5] });

  it('trims per tensor, elects signs (0 counts as +) and takes the disjoint mean', async () => {
    // δa top-3 of |.|: 4,3,2 → [3,0,2,0,-4];  δb top-3: 5,2,1.5 → [-1.5,-2,0,0,5]
    // with weights (0.5, 1): x = [1.5,0,1,0,-2], [-1.5,-2,0,0,5]; Σ = [0,-2,1,0,3] → γ = [+,-,+,+,+]
    // disjoint mean: [1.5/0.5, -2/1, 1/0.5, 0, 5/1]
    const r = await runMerge(
      `merge_method: ties
base_model: base
models:
  - {model: a, parameters: {weight: 0.5, density: 0.6}}
  - {model: b, parameters: {weight: 1, density: 0.6}}`,
      await ms(),
    );
    expect(arr(await r.tensor('w'))).toEqual([3, -2, 2, 0, 5]);
    expect(r.summary.diagnostics.w!.thresholds).toEqual([
      { model: 'a', lo: 2 },
      { model: 'b', lo: 1.5 },
    ]);
  });

  it('without normalize sums the agreeing weighted deltas; lambda scales the result', async () => {
    const r = await runMerge(
      `merge_method: ties
base_model: base
models:
  - {model: a, parameters: {weight: 0.5, density: 0.6}}
  - {model: b, parameters: {weight: 1, density: 0.6}}
parameters: {normalize: false, lambda: 2}`,
      await ms(),
    );
    expect(arr(await r.tensor('w'))).toEqual([3, -4, 2, 0, 10]);
  });

  it('keeps exactly int(density·n) elements, ties at the threshold lowest index first (as mergekit)', async () => {
    const r = await runMerge(
      `merge_method: ties
base_model: base
models: [{model: a, parameters: {weight: 1, density: 0.4}}]`,
      await models({ base: [0, 0, 0, 0, 0], a: [1, -2, 2, 2, 0.5] }),
    );
    // k = int(0.4·5) = 2: three elements tie at |δ| = 2; indices 1 and 2 are kept, index 3 is not
    expect(arr(await r.tensor('w'))).toEqual([0, -2, 2, 0, 0]);
  });
});

describe('DARE', () => {
  const n = 20000;
  const recipe = (seed: number, method = 'dare_linear') => `merge_method: ${method}
base_model: base
models: [{model: m, parameters: {weight: 1, density: 0.7}}]
random_seed: ${seed}`;
  const ms = () => models({ base: new Array(n).fill(1), m: new Array(n).fill(1.5) });

  it('keeps each element with probability density and rescales by ‖δ‖₁/‖kept δ‖₁ (mergekit)', async () => {
    const out = await (await runMerge(recipe(7), await ms())).tensor('w');
    const dropped = [...out].filter((v) => v === 1).length;
    const kept = n - dropped;
    // δ = 0.5 everywhere: ‖δ‖₁ = 0.5 n, ‖kept‖₁ = 0.5 kept, so each kept element becomes 0.5 n / kept.
    const value = 1 + (0.5 * n) / kept;
    expect([...out].filter((v) => Math.abs(v - value) < 1e-6).length).toBe(kept);
    expect(kept / n).toBeGreaterThan(0.68);
    expect(kept / n).toBeLessThan(0.72);
    // The mask is the documented counter-based hash of (seed, stream, index).
    const stream = (fnv1a('w') ^ lowbias32(1)) >>> 0;
    const thr = daresKeepThreshold(0.7);
    for (let i = 0; i < 200; i++) expect(out[i]! !== 1).toBe(randomU32(7, stream, i) >>> 8 < thr);
  });

  it('is deterministic: the same seed gives the same bytes, another seed differs', async () => {
    const a = await (await runMerge(recipe(7, 'dare_ties'), await ms())).raw('w');
    const b = await (await runMerge(recipe(7, 'dare_ties'), await ms(), { chunkElements: 999 })).raw('w');
    const c = await (await runMerge(recipe(8, 'dare_ties'), await ms())).raw('w');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });
});

describe('breadcrumbs', () => {
  it('drops the top gamma fraction and the smallest values, keeping density', async () => {
    // n=10, density 0.5 → keep 5; gamma 0.2 → drop the top 2 (10, 9); keep 8..4
    const r = await runMerge(
      `merge_method: breadcrumbs
base_model: base
models: [{model: m, parameters: {weight: 1, density: 0.5, gamma: 0.2}}]`,
      await models({ base: new Array(10).fill(0), m: [1, -2, 3, 4, -5, 6, 7, 8, -9, 10] }),
    );
    expect(arr(await r.tensor('w'))).toEqual([0, 0, 0, 4, -5, 6, 7, 8, 0, 0]);
  });
});

describe('SLERP', () => {
  it('interpolates on the sphere', async () => {
    const r = await runMerge(
      `merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: 0.5}`,
      await models({ a: [1, 0], b: [0, 1] }),
    );
    const out = await r.tensor('w');
    expect(out[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(out[1]).toBeCloseTo(Math.SQRT1_2, 6);
  });
  it('falls back to linear interpolation when the tensors are nearly parallel', async () => {
    const r = await runMerge(
      `merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: 0.3}`,
      await models({ a: [1, 2, 3], b: [2, 4, 6.01] }),
    );
    const out = await r.tensor('w');
    [0.7 * 1 + 0.3 * 2, 0.7 * 2 + 0.3 * 4, 0.7 * 3 + 0.3 * 6.01].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
    expect(r.summary.diagnostics.w!.slerp!.s0).toBeCloseTo(0.7, 12);
  });
});

describe('task arithmetic, linear and normalize', () => {
  const ms = () => models({ base: [1, 1], a: [3, 1], b: [1, 5] });
  it('task arithmetic adds λ Σ w δ', async () => {
    const r = await runMerge(
      `merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.5}}, {model: b, parameters: {weight: 0.25}}]\nparameters: {lambda: 2}`,
      await ms(),
    );
    expect(arr(await r.tensor('w'))).toEqual([1 + 2 * 0.5 * 2, 1 + 2 * 0.25 * 4]);
  });
  it('normalize divides by Σ w', async () => {
    const r = await runMerge(
      `merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 3}}]\nparameters: {normalize: true}`,
      await ms(),
    );
    expect(arr(await r.tensor('w'))).toEqual([1 + 2 / 4, 1 + 12 / 4]);
  });
  it('linear is the weighted average', async () => {
    const r = await runMerge(
      `merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 3}}]`,
      await models({ a: [4, 0], b: [0, 8] }),
    );
    expect(arr(await r.tensor('w'))).toEqual([1, 6]);
  });
  it('TA with one task vector is interpolation 0.3·θ_S1 + 0.7·θ_S2 (the paper)', async () => {
    const r = await runMerge(
      `merge_method: task_arithmetic\nbase_model: s1\nmodels: [{model: s2, parameters: {weight: 0.7}}]`,
      await models({ s1: [10, -2], s2: [0, 8] }),
    );
    expect(arr(await r.tensor('w'))).toEqual([3, 5]);
  });
});
