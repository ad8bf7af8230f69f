// `merge-lab sweep` over a sens_merging recipe on the demo models: statistics from
// `merge-lab sensitivity` (read once, compiled for every point), a sweep over T and one over λ,
// each point's bytes equal to `merge-lab merge` of the same recipe with that value.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const SET = path.resolve('public/data/arith-heldout.jsonl');
const QUICK = path.resolve('public/models/demo-quick');
const SLOW = path.resolve('public/models/demo-slow');
const dir = mkdtempSync(path.join(tmpdir(), 'sweep-sens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recipe = (lambda: number, temperature: number) =>
  `merge_method: sens_merging\nbase_model: ${QUICK}\nmodels:\n  - model: ${SLOW}\nparameters: {lambda: ${lambda}}\n` +
  `sens:\n  temperature: ${temperature}\n  statistics: {${SLOW}: slow.json, ${QUICK}: quick.json}\n`;

const cli = (...args: string[]) => run('node', [BIN, ...args], { cwd: dir, maxBuffer: 1 << 24 });
const weights = (folder: string) => readFileSync(path.join(folder, 'model.safetensors'));

beforeAll(async () => {
  const stats = (model: string, other: string, out: string) =>
    cli('sensitivity', '--model', model, '--set', SET, '--samples', '2', '--compare', other, '--out', out);
  await Promise.all([stats(SLOW, QUICK, 'slow.json'), stats(QUICK, SLOW, 'quick.json')]);
}, 120_000);

describe('merge-lab sweep with sens_merging', () => {
  const sweep = async (param: string, values: string, keep: string) => {
    writeFileSync(path.join(dir, 'sens.yml'), recipe(0.7, 2));
    const eval_ = ['--set', SET, '--limit', '2', '--max-new-tokens', '8', '--ep', 'wasm'];
    return cli('sweep', 'sens.yml', '--param', param, '--values', values, '--keep', keep, ...eval_);
  };
  const mergeOnce = async (lambda: number, temperature: number, out: string) => {
    writeFileSync(path.join(dir, `${out}.yml`), recipe(lambda, temperature));
    await cli('merge', `${out}.yml`, '--out', out, '--backend', 'cpu');
    return weights(path.join(dir, out));
  };

  it('sweeps T: each point is the merge of the recipe with that T', { timeout: 180_000 }, async () => {
    const r = await sweep('temperature', '0.05,3', 'keep-t');
    expect(r.stderr).toMatch(/temperature=0\.05: sens_merging \(T=0\.05, λ=0\.7\): per-layer coefficients/);
    expect(r.stderr).toMatch(/temperature=3: sens_merging \(T=3, λ=0\.7\)/);
    expect(r.stdout).toMatch(/sens_merging-temperature-3/);
    const sharp = weights(path.join(dir, 'keep-t', 'sens_merging-temperature-0.05'));
    const soft = weights(path.join(dir, 'keep-t', 'sens_merging-temperature-3'));
    expect(soft.equals(await mergeOnce(0.7, 3, 'once-t3'))).toBe(true);
    expect(sharp.equals(await mergeOnce(0.7, 0.05, 'once-t005'))).toBe(true);
    expect(sharp.equals(soft)).toBe(false); // T reached the coefficients
  });

  it('sweeps λ with the sens block kept', { timeout: 180_000 }, async () => {
    const r = await sweep('lambda', '0.4', 'keep-l');
    expect(r.stderr).toMatch(/lambda=0\.4: sens_merging \(T=2, λ=0\.4\)/);
    const point = weights(path.join(dir, 'keep-l', 'sens_merging-lambda-0.4'));
    expect(point.equals(await mergeOnce(0.4, 2, 'once-l04'))).toBe(true);
  });

  it('refuses a T sweep on a recipe without a sens block', { timeout: 60_000 }, async () => {
    writeFileSync(
      path.join(dir, 'ta.yml'),
      `merge_method: task_arithmetic\nbase_model: ${QUICK}\nmodels:\n  - model: ${SLOW}\n    parameters: {weight: 0.7}\n`,
    );
    const e = await cli('sweep', 'ta.yml', '--param', 'temperature', '--values', '1', '--set', SET).catch((x) => x);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/cannot sweep 'temperature': the recipe has no sens block/);
  });
});
