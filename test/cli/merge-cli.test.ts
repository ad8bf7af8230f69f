/** `merge-lab merge` end to end: generated checkpoints on disk, the paper's recipes, output read back. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeToF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { FsModelFolder } from '../../src/node/fs-folder';
import { tinyTensorShapes, writeTinyModel } from '../helpers/checkpoints';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');

async function tensor(dir: string, name: string) {
  const c = await Checkpoint.open(new FsModelFolder(dir));
  const t = c.tensor(name)!;
  const values = decodeToF32(await t.file.readRange(name), t.dtype);
  await c.close();
  return values;
}

describe('merge-lab merge', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-cli-'));
  writeTinyModel(path.join(dir, 'quick'), { seed: 1, shards: 2, hidden: 16, intermediate: 24, vocab: 40 });
  writeTinyModel(path.join(dir, 'slow'), {
    seed: 2,
    like: { seed: 1, scale: 0.05 },
    hidden: 16,
    intermediate: 24,
    vocab: 40,
  });

  it('merges with the paper TA recipe and the output loads back with a valid index', async () => {
    const recipe = path.join(dir, 'ta.yml');
    writeFileSync(
      recipe,
      'merge_method: task_arithmetic\nbase_model: quick\nmodels:\n  - model: slow\n    parameters: {weight: 0.7}\n',
    );
    const out = path.join(dir, 'out-ta');
    const { stdout } = await run('node', [
      BIN,
      'merge',
      recipe,
      '--out',
      out,
      '--backend',
      'cpu',
      '--shard-size',
      '4KiB',
    ]);
    expect(stdout).toMatch(/merged 27 tensors with task_arithmetic on cpu/);
    const index = JSON.parse(readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'));
    const shards = new Set(Object.values(index.weight_map));
    expect(shards.size).toBeGreaterThan(1);
    for (const s of shards) expect(readdirSync(out)).toContain(s);
    expect(readdirSync(out).some((f) => f.endsWith('.partial'))).toBe(false);
    for (const [name] of tinyTensorShapes({ seed: 1 })) {
      const a = await tensor(path.join(dir, 'quick'), name);
      const b = await tensor(path.join(dir, 'slow'), name);
      const m = await tensor(out, name);
      m.forEach((v, i) => expect(v).toBeCloseTo(0.3 * a[i]! + 0.7 * b[i]!, 5));
    }
  });

  it('merges with the paper TIES recipe (k=0.8 trimmed, α=1)', async () => {
    const recipe = path.join(dir, 'ties.yml');
    writeFileSync(
      recipe,
      'merge_method: ties\nbase_model: quick\nmodels:\n  - model: slow\n    parameters: {weight: 1.0, density: 0.2}\nparameters: {lambda: 1.0}\n',
    );
    const out = path.join(dir, 'out-ties');
    const { stdout } = await run('node', [BIN, 'merge', recipe, '--out', out, '--backend', 'cpu']);
    expect(stdout).toMatch(/merged 27 tensors with ties/);
    const name = 'model.layers.1.mlp.down_proj.weight';
    const a = await tensor(path.join(dir, 'quick'), name);
    const b = await tensor(path.join(dir, 'slow'), name);
    const m = await tensor(out, name);
    const changed = [...m].filter((v, i) => v !== a[i]).length;
    expect(changed).toBe(Math.floor(0.2 * m.length));
    m.forEach((v, i) => expect(v === a[i] || v === b[i]).toBe(true));
  });

  it('exits non-zero with a clear message for a bad recipe', async () => {
    const recipe = path.join(dir, 'bad.yml');
    writeFileSync(recipe, 'merge_method: ties\nmodels: [{model: slow, parameters: {weight: 1}}]\n');
    const err = await run('node', [BIN, 'merge', recipe, '--out', path.join(dir, 'bad')]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/RecipeError: recipe field 'base_model': ties needs a base_model/);
  });

  it('reports any lab error the same way: a bad AIM statistics file names the file, exit code 1', async () => {
    const recipe = path.join(dir, 'aim.yml');
    writeFileSync(path.join(dir, 'stats.json'), '{"format": "something else"}');
    const aim = 'aim: {omega: 0.4, calibration: stats.json}\n';
    writeFileSync(
      recipe,
      `merge_method: task_arithmetic\nbase_model: quick\nmodels: [{model: slow, parameters: {weight: 0.7}}]\n${aim}`,
    );
    const err = await run('node', [BIN, 'merge', recipe, '--out', path.join(dir, 'aim'), '--backend', 'cpu']).catch(
      (e) => e,
    );
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(
      /merge-lab merge: ActivationStatsError: .*stats\.json: not a merge-lab-activation-stats v1 file/,
    );
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });
});
