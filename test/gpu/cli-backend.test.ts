/** `merge-lab merge --backend auto|cpu|webgpu` from a real subprocess. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../helpers/checkpoints';
import { requireGpu } from './gpu-env';

await requireGpu();
const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');

describe('CLI backend selection', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-gpu-cli-'));
  writeTinyModel(path.join(dir, 'base'), { seed: 1, hidden: 16, intermediate: 24, vocab: 40, dtype: 'BF16' });
  writeTinyModel(path.join(dir, 'a'), {
    seed: 2,
    like: { seed: 1, scale: 0.05 },
    hidden: 16,
    intermediate: 24,
    vocab: 40,
    dtype: 'BF16',
  });
  const recipe = path.join(dir, 'ties.yml');
  writeFileSync(
    recipe,
    'merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n    parameters: {weight: 1, density: 0.3}\n',
  );
  const merge = (out: string, backend: string, env: NodeJS.ProcessEnv = process.env) =>
    run('node', [BIN, 'merge', recipe, '--out', path.join(dir, out), '--backend', backend], { env });
  const noGpu = { ...process.env, VK_ICD_FILENAMES: path.join(dir, 'no-such-icd.json') };

  it('auto picks WebGPU and names the adapter; the output equals the CPU reference', async () => {
    const gpu = await merge('auto', 'auto');
    expect(gpu.stderr).toMatch(/backend: webgpu \(.+\)/);
    expect(gpu.stdout).toMatch(/merged \d+ tensors with ties on webgpu/);
    await merge('cpu', 'cpu');
    expect(
      readFileSync(path.join(dir, 'auto/model.safetensors')).equals(
        readFileSync(path.join(dir, 'cpu/model.safetensors')),
      ),
    ).toBe(true);
  });

  it('auto without an adapter falls back to the CPU with a notice; explicit webgpu fails', async () => {
    const fallback = await merge('fallback', 'auto', noGpu);
    expect(fallback.stderr).toMatch(/notice: no WebGPU adapter .*falling back to the CPU/);
    expect(fallback.stdout).toMatch(/on cpu/);
    const err = await merge('fail', 'webgpu', noGpu).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/--backend webgpu: no WebGPU adapter/);
  });
});
