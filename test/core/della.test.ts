/**
 * issue 19: DELLA and DELLA-linear against mergekit's della_magprune and GTA formulas, worked out
 * here in f64 on small tensors: per-row magnitude ranks → keep probabilities density ± ε, the
 * lab's documented hashed draws (rng.ts, as for DARE), the L1 rescale, sign consensus, normalize
 * and λ. Also chunk invariance, the statistics of the draws and the density ± ε range error.
 */
import { describe, expect, it } from 'vitest';
import { RecipeError } from '../../src/core/errors';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { randomU32 } from '../../src/core/kernels/rng';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { sparsifyValues } from '../../src/core/merge/methods/sparsify-values';
import { parseRecipe } from '../../src/core/recipe/parse';
import { randomFloats } from '../helpers/checkpoints';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';
import { DELLA_SHAPES, dellaCase, dellaRef } from '../helpers/della-reference';

describe('della_magprune (the reference itself)', () => {
  it('ranks within each row of a 2-D tensor, the smallest |δ| at density − ε', () => {
    // One row [0.3, −0.1, 0.2]: ranks 3, 1, 2 → probabilities 0.6, 0.2, 0.4 at density 0.4, ε 0.2.
    const keep = sparsifyValues(Float32Array.from([0.3, -0.1, 0.2]), 'della', {
      density: 0.4,
      gamma: 0,
      epsilon: 0.2,
      rescale: false,
      seed: 3,
      stream: 4,
    });
    const units = [0.6, 0.2, 0.4].map((p) => Math.round(p * 2 ** 24));
    const want = [0.3, -0.1, 0.2].map((v, i) => (randomU32(3, 4, i) >>> 8 < units[i]! ? Math.fround(v) : 0));
    expect([...keep]).toEqual(want);
  });
});

describe('DELLA on the CPU reference', () => {
  for (const c of dellaCase.all)
    it(c.name, async () => {
      const r = await runMerge(c.yaml, await c.checkpoints());
      for (const [name, shape] of Object.entries(DELLA_SHAPES)) {
        const got = await r.tensor(name);
        const want = dellaRef(c, name, shape);
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        got.forEach((v, i) => expect(Math.abs(v - want[i]!), `${name}[${i}]`).toBeLessThanOrEqual(2e-6 * scale));
        // Rows straddle chunks of 7 elements: the same bytes.
        const chunked = await runMerge(c.yaml, await c.checkpoints(), { chunkElements: 7 });
        expect(Buffer.from(await chunked.raw(name)).equals(Buffer.from(await r.raw(name))), name).toBe(true);
      }
    });

  it('keeps each rank with probability density − ε + 2ε·r/(cols − 1), without rescale the kept δ unchanged', async () => {
    const rows = 4000;
    const cols = 5;
    const values = Array.from({ length: rows * cols }, (_, i) => ((i % cols) + 1) * (i % 2 ? -1 : 1)); // rank = column
    const r = await runMerge(
      'merge_method: della_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.5, epsilon: 0.3}}]\nparameters: {rescale: false}\nrandom_seed: 11',
      [
        await valuesCheckpoint('base', { w: { shape: [rows, cols], values: new Array(rows * cols).fill(0) } }),
        await valuesCheckpoint('a', { w: { shape: [rows, cols], values } }),
      ],
    );
    const out = await r.tensor('w');
    for (let col = 0; col < cols; col++) {
      let kept = 0;
      for (let row = 0; row < rows; row++) {
        const v = out[row * cols + col]!;
        if (v !== 0) {
          kept++;
          expect(v).toBe(values[row * cols + col]);
        }
      }
      expect(kept / rows, `rank ${col}`).toBeCloseTo(0.2 + (0.6 * col) / (cols - 1), 1);
    }
  });

  it('density 1 keeps δ whole, density 0 keeps nothing (the base)', async () => {
    const base = randomFloats(12, 1);
    const a = randomFloats(12, 2);
    const ckpts = async () => [
      await valuesCheckpoint('base', { w: { shape: [3, 4], values: base } }),
      await valuesCheckpoint('a', { w: { shape: [3, 4], values: a } }),
    ];
    const yaml = (density: number) =>
      `merge_method: della_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: ${density}}}]`;
    // θ₀ + δ in f32: δ = fround(a − θ₀), unsparsified.
    const whole = base.map((b0, i) => Math.fround(b0 + Math.fround(a[i]! - b0)));
    expect([...(await (await runMerge(yaml(1), await ckpts())).tensor('w'))]).toEqual([...whole]);
    expect([...(await (await runMerge(yaml(0), await ckpts())).tensor('w'))]).toEqual([...base]);
  });

  it('density ± ε outside (0, 1) is refused before anything is written, naming the model and tensor', async () => {
    const { recipe } = parseRecipe(
      'merge_method: della\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1, density: 0.1, epsilon: 0.15}}]',
    );
    const out = new MemoryOutputFolder();
    const sources = new Map([
      ['base', await valuesCheckpoint('base', { w: { shape: [4], values: [0, 0, 0, 0] } })],
      ['a', await valuesCheckpoint('a', { w: { shape: [4], values: [1, 2, 3, 4] } })],
    ]);
    const err = await merge(recipe, sources, new CpuBackend(), out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecipeError);
    expect((err as RecipeError).field).toBe('models[a].parameters.epsilon');
    expect((err as RecipeError).message).toMatch(/tensor 'w'.*density 0\.1, epsilon 0\.15/);
    expect(out.files.size).toBe(0);
  });
});
