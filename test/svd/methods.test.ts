/**
 * Every SVD merge through the real merge entry point on tiny Qwen2-shaped checkpoints (CPU
 * backend, f32), against the plain-TS f64 references in ./reference.ts. 2-D weights must match
 * the reference to 2e-5 (f32 storage of the result and of the factors); norms, biases and the
 * embeddings must equal the task-arithmetic fallback and be listed in the summary's warnings.
 */
import { describe, expect, it } from 'vitest';
import { jacobiSvd } from '../../src/core/kernels/jacobi-svd';
import type { SpectrumDiagnostics } from '../../src/core/merge/diagnostics';
import { parseRecipe } from '../../src/core/recipe/parse';
import { type TinyModelOptions, tinyCheckpoint, tinyTensorShapes, tinyValues } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { isoCRef, isoCtsRef, loreRef, lowRankRef, tsvRef, twinRef } from './reference';

const SHAPE: Omit<TinyModelOptions, 'seed'> = { layers: 1, hidden: 8, intermediate: 12, vocab: 16 };
const BASE: TinyModelOptions = { ...SHAPE, seed: 1 };
const A: TinyModelOptions = { ...SHAPE, seed: 2, like: { seed: 1, scale: 0.1 } };
const B: TinyModelOptions = { ...SHAPE, seed: 3, like: { seed: 1, scale: 0.05 } };
const EMBEDDINGS = ['model.embed_tokens.weight', 'lm_head.weight'];

const models = () => Promise.all([tinyCheckpoint('base', BASE), tinyCheckpoint('a', A), tinyCheckpoint('b', B)]);
const vals = (o: TinyModelOptions, name: string, shape: number[]) =>
  tinyValues(
    o,
    name,
    shape.reduce((x, y) => x * y, 1),
  );

type Ref = (base: Float32Array, thetas: Float32Array[], m: number, n: number) => Float64Array;

async function check(
  yaml: string,
  ref: Ref,
  fallback: (base: Float32Array, thetas: Float32Array[]) => Float64Array,
  withBase = true,
) {
  const spectra: SpectrumDiagnostics[] = [];
  const r = await runMerge(yaml, await models(), { onSpectrum: (d) => spectra.push(d) });
  let svdTensors = 0;
  for (const [name, shape] of tinyTensorShapes(BASE)) {
    const base = vals(BASE, name, shape);
    const thetas = [vals(A, name, shape), vals(B, name, shape)];
    const got = await r.tensor(name);
    const svd = shape.length === 2 && !EMBEDDINGS.includes(name);
    const want = svd ? ref(base, thetas, shape[0]!, shape[1]!) : fallback(base, thetas);
    const scale = Math.max(...want.map(Math.abs));
    let worst = 0;
    want.forEach((w, i) => (worst = Math.max(worst, Math.abs(w - got[i]!))));
    expect(worst, `${name}: max |Δ| ${worst}`).toBeLessThan(2e-5 * Math.max(1, scale));
    if (svd) {
      svdTensors++;
      expect(r.summary.diagnostics[name]!.svd?.fallback).toBeUndefined();
    } else {
      expect(r.summary.diagnostics[name]!.svd?.fallback).toBe(true);
      const w = r.summary.warnings.find((x) => x.code === 'svd-fallback' && x.tensor === name);
      expect(w?.message.startsWith(`${name}:`) && w.message.includes('task arithmetic')).toBe(true);
    }
  }
  expect(svdTensors).toBe(7);
  expect(spectra.length).toBeGreaterThan(0);
  void withBase;
  return { r, spectra };
}

const taFallback =
  (lambda: number, ws: number[], mean = false) =>
  (base: Float32Array, thetas: Float32Array[]) => {
    const div = mean ? ws.reduce((a, b) => a + b, 0) : 1;
    return Float64Array.from(
      base,
      (x, i) => x + thetas.reduce((s, th, t) => s + (lambda * ws[t]! * (th[i]! - x)) / div, 0),
    );
  };

describe('SVD merges against plain-TS references (tiny checkpoints)', () => {
  it('tsv: truncate, whiten U and V with their polar factors, rebuild; λ and weights', async () => {
    const { r, spectra } = await check(
      `merge_method: tsv
base_model: base
models: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 0.5}}]
parameters: {rank: 3, lambda: 0.8}`,
      (base, th, m, n) => tsvRef(base, th, [1, 0.5], m, n, Math.min(3, Math.floor(Math.min(m, n) / 2)), 0.8),
      taFallback(0.8, [1, 0.5]),
    );
    const d = spectra.find((s) => s.tensor === 'model.layers.0.mlp.up_proj.weight' && s.model === 'a')!;
    expect(d.shape).toEqual([12, 8]);
    expect(d.rank).toBe(3);
    expect(d.singularValues.length).toBe(8); // k + p covers min(m, n)
    expect(d.energyAtRank).toBeGreaterThan(0);
    expect(d.energyAtRank).toBeLessThan(1);
    const kept = r.summary.diagnostics['model.layers.0.mlp.up_proj.weight']!.svd!.spectra.find(
      (s) => s.model === 'a' && s.matrix === 'task_vector',
    );
    expect(kept!.energyAtRank).toBeCloseTo(d.energyAtRank, 12);
    // against the exact spectrum of δ_a = θ_a − θ₀
    const name = 'model.layers.0.mlp.up_proj.weight';
    const delta = Float64Array.from(vals(A, name, [12, 8]), (x, i) => x - vals(BASE, name, [12, 8])[i]!);
    const exact = jacobiSvd(delta, 12, 8).s;
    const total = exact.reduce((a, x) => a + x * x, 0);
    d.singularValues.forEach((x, i) => expect(Math.abs(x - exact[i]!)).toBeLessThan(1e-5 * exact[0]!));
    expect(Math.abs(d.totalEnergy - total)).toBeLessThan(1e-5 * total);
    expect(Math.abs(d.energyAtRank - (exact[0]! ** 2 + exact[1]! ** 2 + exact[2]! ** 2) / total)).toBeLessThan(1e-5);
    const p = Array.from(exact, (x) => x / exact.reduce((a, y) => a + y, 0));
    expect(d.effectiveRank).toBeCloseTo(Math.exp(-p.reduce((a, x) => a + x * Math.log(x), 0)), 4);
    let cum = 0;
    const rank90 = exact.findIndex((x) => (cum += x * x) >= 0.9 * total) + 1;
    expect(d.rank90).toBe(rank90);
  });

  it('tsv at full rank with one task vector is task arithmetic', async () => {
    const r = await runMerge(
      `merge_method: tsv
base_model: base
models: [{model: a}]
parameters: {lambda: 0.7}`,
      [await tinyCheckpoint('base', BASE), await tinyCheckpoint('a', A)],
    );
    const name = 'model.layers.0.mlp.down_proj.weight';
    const want = taFallback(0.7, [1])(vals(BASE, name, [8, 12]), [vals(A, name, [8, 12])]);
    const got = await r.tensor(name);
    want.forEach((w, i) => expect(Math.abs(w - got[i]!)).toBeLessThan(2e-6));
  });

  it('iso_c: flat spectrum of the mean task vector (full rank and rank 2)', async () => {
    await check(
      `merge_method: iso_c
base_model: base
models: [{model: a}, {model: b, parameters: {weight: 3}}]
parameters: {lambda: 1.5}`,
      (base, th, m, n) => isoCRef(base, th, [1, 3], m, n, Math.min(m, n), 1.5),
      taFallback(1.5, [1, 3], true),
    );
    await check(
      `merge_method: iso_c
base_model: base
models: [{model: a}, {model: b}]
parameters: {rank: 2}`,
      (base, th, m, n) => isoCRef(base, th, [1, 1], m, n, 2, 1),
      taFallback(1, [1, 1], true),
    );
  });

  it('iso_cts: common subspace of the mean plus task-specific directions, whitened, flat spectrum', async () => {
    await check(
      `merge_method: iso_cts
base_model: base
models: [{model: a}, {model: b, parameters: {weight: 2}}]
parameters: {common_fraction: 0.5, rank: 6, lambda: 1.2}`,
      (base, th, m, n) => isoCtsRef(base, th, [1, 2], m, n, Math.min(m, n, 6), 0.5, 1.2),
      taFallback(1.2, [1, 2], true),
    );
  });

  it('twin: TA merge plus the weighted rank-r residuals', async () => {
    await check(
      `merge_method: twin
base_model: base
models: [{model: a, parameters: {weight: 0.6}}, {model: b, parameters: {weight: 0.4}}]
parameters: {rank: 2, lambda: 0.9}`,
      (base, th, m, n) => twinRef(base, th, [0.6, 0.4], m, n, 2, 0.9),
      taFallback(0.9, [0.6, 0.4]),
    );
  });

  it('lore with a base, and without one (it estimates θ₀)', async () => {
    await check(
      `merge_method: lore
base_model: base
models: [{model: a}, {model: b}]
parameters: {mu: 0.2, iterations: 3}`,
      (base, th, m, n) => loreRef(base, th, [1, 1], m, n, Math.min(m, n), 0.2, 3, 1),
      taFallback(1, [1, 1]),
    );
    const r = await runMerge(
      `merge_method: lore
models: [{model: a}, {model: b}]
parameters: {mu: 0.3, iterations: 2}`,
      await models(),
    );
    for (const [name, shape] of tinyTensorShapes(BASE)) {
      const th = [vals(A, name, shape), vals(B, name, shape)];
      const got = await r.tensor(name);
      const svd = shape.length === 2 && !EMBEDDINGS.includes(name);
      const want = svd
        ? loreRef(undefined, th, [1, 1], shape[0]!, shape[1]!, Math.min(shape[0]!, shape[1]!), 0.3, 2, 1)
        : Float64Array.from(th[0]!, (x, i) => (x + th[1]![i]!) / 2);
      want.forEach((w, i) => expect(Math.abs(w - got[i]!), name).toBeLessThan(2e-5));
    }
  });

  it('low_rank_task_arithmetic by rank and by energy fraction', async () => {
    await check(
      `merge_method: low_rank_task_arithmetic
base_model: base
models: [{model: a, parameters: {weight: 0.7}}, {model: b, parameters: {weight: 0.3}}]
parameters: {rank: 2}`,
      (base, th, m, n) => lowRankRef(base, th, [0.7, 0.3], m, n, () => 2, 1),
      taFallback(1, [0.7, 0.3]),
    );
    const energyRank = (s: Float64Array) => {
      const total = s.reduce((a, x) => a + x * x, 0);
      let acc = 0;
      for (let i = 0; i < s.length; i++) if ((acc += s[i]! ** 2) >= 0.6 * total * (1 - 1e-6)) return i + 1;
      return s.length;
    };
    await check(
      `merge_method: low_rank_task_arithmetic
base_model: base
models: [{model: a}, {model: b}]
parameters: {energy: 0.6, normalize: true, lambda: 2}`,
      (base, th, m, n) => lowRankRef(base, th, [0.5, 0.5], m, n, energyRank, 2),
      taFallback(2, [1, 1], true),
    );
  });
});

describe('recipes of the SVD family', () => {
  const yaml = (method: string, params: string) =>
    `merge_method: ${method}\nbase_model: base\nmodels: [{model: a}]\nparameters: ${params}`;
  it('accepts their parameters and defaults the weight to 1', () => {
    expect(parseRecipe(yaml('tsv', '{rank: 4, oversample: 5, power_iters: 1}')).recipe.parameters.rank).toBe(4);
    expect(parseRecipe(yaml('lore', '{mu: 0.1, iterations: 2}')).recipe.mergeMethod).toBe('lore');
    expect(parseRecipe('merge_method: lore\nmodels: [{model: a}, {model: b}]').recipe.baseModel).toBeUndefined();
  });
  it('rejects bad values, naming the field', () => {
    expect(() => parseRecipe(yaml('tsv', '{rank: 0}'))).toThrow(/parameters\.rank.*outside/);
    expect(() => parseRecipe(yaml('tsv', '{rank: 2.5}'))).toThrow(/parameters\.rank.*whole number/);
    expect(() => parseRecipe(yaml('lore', '{mu: 2}'))).toThrow(/parameters\.mu/);
    expect(() => parseRecipe(yaml('low_rank_task_arithmetic', '{energy: 1.5}'))).toThrow(/parameters\.energy/);
    // A parameter the method does not read warns and is dropped (issue 19: mergekit ignores such keys).
    expect(parseRecipe(yaml('tsv', '{mu: 0.1}')).warnings[0]!.message).toMatch(/parameters\.mu.*not used by tsv/);
    expect(() => parseRecipe('merge_method: tsv\nmodels: [{model: a}]')).toThrow(/base_model/);
  });
});
