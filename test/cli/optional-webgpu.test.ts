/**
 * `webgpu` (Dawn) is an optional dependency. Run as if it were not installed (a resolve hook
 * makes the package unfindable), the CLI merges on the CPU and says why, generates on wasm, and
 * refuses an explicit WebGPU request with an error that says how to install it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../helpers/checkpoints';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const WITHOUT_WEBGPU = path.resolve('test/cli/fixtures/without-webgpu.mjs');
const cli = (...args: string[]) => run('node', ['--import', WITHOUT_WEBGPU, BIN, ...args]);
const MISSING =
  /WebGPU in Node needs the optional 'webgpu' package \(Dawn\), which is not installed .*npm install webgpu/;

describe('the CLI without the webgpu package', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-no-dawn-'));
  writeTinyModel(path.join(dir, 'base'), { seed: 1, hidden: 16, intermediate: 24, vocab: 40 });
  writeTinyModel(path.join(dir, 'a'), {
    seed: 2,
    like: { seed: 1, scale: 0.05 },
    hidden: 16,
    intermediate: 24,
    vocab: 40,
  });
  const recipe = path.join(dir, 'ta.yml');
  writeFileSync(
    recipe,
    'merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: a\n    parameters: {weight: 0.5}\n',
  );

  it('merge --backend auto falls back to the CPU with a notice that says so', async () => {
    const { stdout, stderr } = await cli('merge', recipe, '--out', path.join(dir, 'auto'));
    expect(stderr).toMatch(/notice: no WebGPU in Node: .*falling back to the CPU backend/);
    expect(stderr).toMatch(MISSING);
    expect(stdout).toMatch(/merged \d+ tensors with task_arithmetic on cpu/);
  });

  it('merge --backend webgpu is a usage error that says how to get Dawn', async () => {
    const err = await cli('merge', recipe, '--out', path.join(dir, 'gpu'), '--backend', 'webgpu').catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/merge-lab merge: --backend webgpu: WebGPU in Node needs the optional 'webgpu' package/);
  });

  it('generate --ep webgpu fails clearly; --ep auto answers on wasm and says why', async () => {
    const demo = 'public/models/demo-base';
    const err = await cli(
      'generate',
      '--model',
      demo,
      '--prompt',
      'hi',
      '--max-new-tokens',
      '2',
      '--ep',
      'webgpu',
    ).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(
      /merge-lab generate: InferError: the WebGPU EP was requested but WebGPU could not be initialised: /,
    );
    expect(err.stderr).toMatch(MISSING);
    expect(err.stderr).not.toMatch(/\n\s+at /);
    const auto = await cli('generate', '--model', demo, '--prompt', 'hi', '--max-new-tokens', '2', '--ep', 'auto');
    expect(auto.stderr).toMatch(
      /ep: wasm: fell back to wasm: WebGPU could not be initialised: WebGPU in Node needs the optional 'webgpu'/,
    );
  });
});
