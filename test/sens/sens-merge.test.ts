// sens_merging end to end on tiny checkpoints: statistics files → per-layer coefficients →
// `merge-lab merge` (CPU), each output tensor checked against θ_S + c^l·(θ_R − θ_S) with c^l from
// the reference's closed two-model form λ·(1 + tanh((α_R τ_R − α_S τ_S)/(2T))), computed here
// independently; plus the reference's sanity checks and the refusals of bad statistics.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeToF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { DEFAULT_SENS_CHOICES, type SensInput, sensCoefficients } from '../../src/core/sens/coefficients';
import { sensGroup } from '../../src/core/sens/stats';
import { FsModelFolder } from '../../src/node/fs-folder';
import { writeTinyModel } from '../helpers/checkpoints';
import { sensGroups, toySensStats } from '../helpers/sens-stats';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'sens-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SHAPE = { hidden: 8, intermediate: 12, vocab: 16, layers: 3 };
const GROUPS = sensGroups(SHAPE.layers);
const stats = (model: string, layerValues: number[], distances: Record<string, number>) =>
  toySensStats(model, SHAPE, layerValues, distances);

// R (System 2, "slow") calibrated on short answers, S (System 1, the base) on long ones.
const S_R = [4, 1, 2, 30, 0.5, 9];
const S_S = [1, 3, 3, 5, 0.2, 12];
const G_RS = 7; // distance between R and S on S's data, recorded in S's file
const G_SR = 3; // on R's data, in R's file
const inputs: SensInput[] = [
  { model: 'slow', file: 'slow.json', stats: stats('slow', S_R, { quick: G_SR }) },
  { model: 'quick', file: 'quick.json', stats: stats('quick', S_S, { slow: G_RS }) },
];

/** The reference's two-model closed form, per group. */
function expectedCoefficient(group: string, lambda: number, T: number): number {
  const norm = (s: number[]) => Math.hypot(...s);
  const l = GROUPS.indexOf(group);
  const aR = S_R[l]! / norm(S_R);
  const aS = S_S[l]! / norm(S_S);
  const tauR = G_RS / (G_RS + G_SR);
  return lambda * (1 + Math.tanh((aR * tauR - aS * (1 - tauR)) / (2 * T)));
}

describe('sens_merging coefficients', () => {
  it('equal the two-model closed form, and meet the sanity checks', () => {
    const c = sensCoefficients(inputs, { ...DEFAULT_SENS_CHOICES, temperature: 3 });
    expect(c.groups).toEqual(GROUPS.slice(0, 3).concat(['lm_head', 'model.embed_tokens', 'model.norm']));
    for (const [l, g] of c.groups.entries()) expect(c.weight[0]![l]!).toBeCloseTo(expectedCoefficient(g, 1, 3), 12);
    expect(c.tau[0]! + c.tau[1]!).toBeCloseTo(1, 14);
    // K = 1: w = 1; T → ∞: w → 1; bounds λ·[1 ± tanh(1/(2T))].
    expect(sensCoefficients(inputs.slice(0, 1), DEFAULT_SENS_CHOICES).weight[0]).toEqual(GROUPS.map(() => 1));
    for (const w of sensCoefficients(inputs, { ...DEFAULT_SENS_CHOICES, temperature: 1e9 }).weight[0]!)
      expect(w).toBeCloseTo(1, 8);
    for (const w of c.weight[0]!) expect(Math.abs(w - 1)).toBeLessThanOrEqual(Math.tanh(1 / 6));
    // Scaling one model's sensitivities changes nothing; all-zero sensitivities give a uniform α.
    const scaled = {
      ...inputs[0]!,
      stats: stats(
        'slow',
        S_R.map((s) => 5 * s),
        { quick: G_SR },
      ),
    };
    expect(sensCoefficients([scaled, inputs[1]!], DEFAULT_SENS_CHOICES).weight).toEqual(
      sensCoefficients(inputs, DEFAULT_SENS_CHOICES).weight.map((r) => r.map((x) => expect.closeTo(x, 12))),
    );
    const zero = {
      ...inputs[0]!,
      stats: stats(
        'slow',
        GROUPS.map(() => 0),
        { quick: G_SR },
      ),
    };
    for (const a of sensCoefficients([zero, inputs[1]!], DEFAULT_SENS_CHOICES).alpha[0]!)
      expect(a).toBeCloseTo(1 / Math.sqrt(6), 14);
    // A recipe may name models by path: distances are looked up by the statistics' model names.
    const byPath = inputs.map((x) => ({ ...x, model: `models/${x.model}` }));
    expect(sensCoefficients(byPath, DEFAULT_SENS_CHOICES).tau).toEqual(
      sensCoefficients(inputs, DEFAULT_SENS_CHOICES).tau,
    );
    // blocks_only: the extra groups keep w = 1 and stay out of the L2 norm.
    const blocks = sensCoefficients(inputs, { ...DEFAULT_SENS_CHOICES, grouping: 'blocks_only' });
    expect(blocks.weight[0]!.slice(3)).toEqual([1, 1, 1]);
    expect(blocks.alpha[0]![0]).toBeCloseTo(4 / Math.hypot(4, 1, 2), 14);
  });
});

describe('merge-lab merge with sens_merging', () => {
  const opts = { ...SHAPE, dtype: 'F32' as const };
  writeTinyModel(path.join(dir, 'quick'), { seed: 1, ...opts });
  writeTinyModel(path.join(dir, 'slow'), { seed: 2, like: { seed: 1, scale: 0.05 }, ...opts });
  writeFileSync(path.join(dir, 'slow.json'), JSON.stringify(inputs[0]!.stats));
  writeFileSync(path.join(dir, 'quick.json'), JSON.stringify(inputs[1]!.stats));
  const recipe = (extra = '', files = '{slow: slow.json, quick: quick.json}') =>
    `merge_method: sens_merging\nbase_model: quick\nmodels:\n  - model: slow\nparameters: {lambda: 0.4}\n` +
    `sens: {temperature: 3.0, statistics: ${files}${extra}}\n`;
  const merge = async (text: string, out: string) => {
    const file = path.join(dir, `${out}.yml`);
    writeFileSync(file, text);
    return run('node', [BIN, 'merge', file, '--out', path.join(dir, out), '--backend', 'cpu']);
  };
  const read = async (model: string) => {
    const folder = new FsModelFolder(path.join(dir, model));
    const ckpt = await Checkpoint.open(folder);
    const out = new Map<string, Float32Array>();
    for (const [name, t] of ckpt.tensors) out.set(name, decodeToF32(await t.file.readRange(name), t.dtype));
    await folder.close();
    return out;
  };

  it('gives θ_S + c^l (θ_R − θ_S) per layer group and prints the coefficients', { timeout: 60_000 }, async () => {
    const r = await merge(recipe(), 'merged');
    expect(r.stderr).toMatch(/sens_merging \(T=3, λ=0\.4\): per-layer coefficients/);
    expect(r.stdout).toMatch(/with task_arithmetic on cpu/);
    const [s, rr, m] = await Promise.all([read('quick'), read('slow'), read('merged')]);
    expect(m.size).toBe(s.size);
    for (const [name, merged] of m) {
      const c = expectedCoefficient(sensGroup(name), 0.4, 3);
      const base = s.get(name)!;
      const other = rr.get(name)!;
      merged.forEach((v, i) => {
        const want = base[i]! + c * (other[i]! - base[i]!);
        expect(Math.abs(v - want), `${name}[${i}]`).toBeLessThanOrEqual(2e-7 * Math.max(1, Math.abs(want)));
      });
    }
  });

  it('refuses statistics of another model, or with a layer missing, naming it', { timeout: 60_000 }, async () => {
    writeFileSync(path.join(dir, 'wrong.json'), JSON.stringify(stats('quick', S_R, { quick: 1 })));
    const wrong = await merge(recipe('', '{slow: wrong.json, quick: quick.json}'), 'wrong').catch((e) => e);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/statistics of model 'quick', not 'slow'/);
    const partial = stats('slow', S_R, { quick: G_SR });
    delete (partial.layers as Record<string, unknown>)['model.layers.1'];
    writeFileSync(path.join(dir, 'partial.json'), JSON.stringify(partial));
    const missing = await merge(recipe('', '{slow: partial.json, quick: quick.json}'), 'missing').catch((e) => e);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no sensitivity for layer 'model\.layers\.1'/);
  });
});
