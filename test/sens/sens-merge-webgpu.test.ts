// sens_merging on WebGPU (lavapipe): the compiled task-arithmetic merge runs on the existing
// kernels and equals the CPU merge of the same recipe. No adapter is a failure (requireGpu).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeToF32 } from '../../src/core/dtype';
import { SENS_STATS_FORMAT } from '../../src/core/sens/stats';
import { writeTinyModel } from '../helpers/checkpoints';
import { requireGpu } from '../gpu/gpu-env';

await requireGpu();
const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'sens-merge-gpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stats(model: string, values: number[], distances: Record<string, number>) {
  const groups = ['model.layers.0', 'model.layers.1', 'model.embed_tokens', 'model.norm', 'lm_head'];
  return {
    format: SENS_STATS_FORMAT,
    version: 1,
    model,
    architecture: { layers: 2, hidden: 16, vocab: 40 },
    calibration: { set: 'toy' },
    layers: Object.fromEntries(groups.map((g, i) => [g, { elementwise: values[i], tensorwise: values[i] }])),
    tensors: {},
    logitDistances: distances,
  };
}

describe('sens_merging on WebGPU', () => {
  it('equals the CPU merge', { timeout: 120_000 }, async () => {
    const opts = { hidden: 16, intermediate: 24, vocab: 40, dtype: 'BF16' as const };
    writeTinyModel(path.join(dir, 'quick'), { seed: 1, ...opts });
    writeTinyModel(path.join(dir, 'slow'), { seed: 2, like: { seed: 1, scale: 0.05 }, ...opts });
    writeFileSync(path.join(dir, 'slow.json'), JSON.stringify(stats('slow', [5, 1, 20, 0.3, 8], { quick: 2 })));
    writeFileSync(path.join(dir, 'quick.json'), JSON.stringify(stats('quick', [1, 4, 6, 0.1, 9], { slow: 6 })));
    const recipe = path.join(dir, 'sens.yml');
    writeFileSync(
      recipe,
      'merge_method: sens_merging\nbase_model: quick\nmodels:\n  - model: slow\nparameters: {lambda: 0.7}\n' +
        'sens: {temperature: 2.0, statistics: {slow: slow.json, quick: quick.json}}\n',
    );
    const merge = (out: string, backend: string) =>
      run('node', [BIN, 'merge', recipe, '--out', path.join(dir, out), '--backend', backend]);
    const gpu = await merge('gpu', 'webgpu');
    expect(gpu.stdout).toMatch(/with task_arithmetic on webgpu/);
    await merge('cpu', 'cpu');
    const bytes = (d: string) => readFileSync(path.join(dir, d, 'model.safetensors'));
    const [a, b] = [bytes('gpu'), bytes('cpu')];
    expect(a.length).toBe(b.length);
    // bf16 output: the same values to the last bit, or one bf16 ulp where the f32 sums round apart.
    const n = Number(a.readBigUInt64LE(0));
    const va = decodeToF32(new Uint8Array(a.subarray(8 + n)), 'BF16');
    const vb = decodeToF32(new Uint8Array(b.subarray(8 + n)), 'BF16');
    vb.forEach((x, i) => expect(Math.abs(va[i]! - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -7 + 1e-30));
  });
});
