/**
 * The whole WebGPU backward pass of Sens-Merging (src/infer/sens/gpu) against the PyTorch goldens
 * (test/golden/sens-*.json: demo-quick, demo-slow, hd128) on this machine's adapter (lavapipe),
 * what it refuses, and `merge-lab sensitivity --backend webgpu` against the CPU backend. The
 * kernels one by one: sens-backward.test.ts. No adapter is a failure (requireGpu).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { parseSensStats } from '../../src/core/sens/stats';
import { SensGpu } from '../../src/infer/sens/gpu/context';
import { gpuSensitivityPass } from '../../src/infer/sens/gpu/pass';
import { SensWeights } from '../../src/infer/sens/weights';
import { FsModelFolder } from '../../src/node/fs-folder';
import { nodeGpu } from '../../src/node/webgpu-env';
import type { SensGolden } from '../../tools/sens/make-goldens';
import { writeRandomQwen } from '../../tools/random-qwen';
import { requireGpu } from './gpu-env';
import { REL, expectGoldenParity } from './sens-golden';

await requireGpu();

let gpu: SensGpu;
beforeAll(async () => {
  gpu = await SensGpu.create(await nodeGpu());
});
afterAll(async () => {
  await gpu?.dispose();
});

const tmp = mkdtempSync(path.join(tmpdir(), 'sens-gpu-parity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The pass's own kernels here (register blocks on lavapipe), and, on hd128, the tiled kernels real GPUs run. */
describe.each([
  ['demo-quick', 'own'],
  ['demo-slow', 'own'],
  ['hd128', 'own'],
  ['hd128', 'tiled'],
] as const)('WebGPU gradient parity with PyTorch: %s (%s kernels)', (name, kernels) => {
  const golden = JSON.parse(readFileSync(`test/golden/sens-${name}.json`, 'utf8')) as SensGolden;

  it('every sample: loss, per-tensor and per-layer Σ|θ⊙g| and Σθ⊙g, raw gradient probes', async () => {
    const dir = 'dir' in golden.source ? path.resolve(golden.source.dir) : path.join(tmp, golden.model);
    if ('randomQwen' in golden.source) await writeRandomQwen(dir, golden.source.randomQwen);
    const folder = new FsModelFolder(dir);
    const on = kernels === 'own' ? gpu : await SensGpu.create(await nodeGpu(), { variant: 'tiled' });
    try {
      const weights = new SensWeights(await Checkpoint.open(folder, { requireConfig: true }));
      const probes = new Map(Object.entries(golden.probes));
      for (const [i, sample] of golden.samples.entries()) {
        const worst = expectGoldenParity(golden, i, await gpuSensitivityPass(on, weights, sample, { probes }));
        console.log(`${on.name} (${on.linalg.variant}), ${name} sample ${i}: worst ${JSON.stringify(worst)}`);
      }
    } finally {
      if (on !== gpu) await on.dispose();
      await folder.close();
    }
  });
});

describe('what the WebGPU pass refuses', () => {
  it("a head_dim past the kernels' registers, and a sample whose activations exceed one binding", async () => {
    const dir = path.join(tmp, 'hd512');
    const shape = {
      layers: 1,
      hidden: 512,
      intermediate: 64,
      heads: 1,
      kvHeads: 1,
      vocab: 64,
      tied: true,
      maxPositions: 64,
    };
    await writeRandomQwen(dir, { shape, dtype: 'F32', seed: 3 });
    const wide = new FsModelFolder(dir);
    const demo = new FsModelFolder('public/models/demo-quick');
    const tight = await SensGpu.create(await nodeGpu(), { maxBindingBytes: 16 * 1024 });
    try {
      const sample = { ids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], targets: [5, 6, 7] };
      const hd512 = new SensWeights(await Checkpoint.open(wide, { requireConfig: true }));
      await expect(gpuSensitivityPass(gpu, hd512, sample)).rejects.toMatchObject({ code: 'unsupported-feature' });
      const small = new SensWeights(await Checkpoint.open(demo, { requireConfig: true }));
      await expect(gpuSensitivityPass(tight, small, sample)).rejects.toMatchObject({
        code: 'does-not-fit',
        message: expect.stringMatching(/12-token sample needs .* MiB activations/),
      });
    } finally {
      await tight.dispose();
      await wide.close();
      await demo.close();
    }
  });
});

describe('merge-lab sensitivity --backend', () => {
  const cli = (backend: string, out: string) =>
    promisify(execFile)('node', [
      path.resolve('bin/merge-lab.mjs'),
      ...['sensitivity', '--model', 'public/models/demo-quick', '--set', 'public/data/arith-heldout.jsonl'],
      ...['--samples', '1', '--backend', backend, '--out', out],
    ]);

  it(
    'webgpu writes the statistics file the cpu backend writes, its readings naming the backend',
    { timeout: 120_000 },
    async () => {
      const [cpuOut, gpuOut] = [path.join(tmp, 'cpu.json'), path.join(tmp, 'gpu.json')];
      await cli('cpu', cpuOut);
      await cli('webgpu', gpuOut);
      const cpu = parseSensStats(readFileSync(cpuOut, 'utf8'), cpuOut);
      const gpu = parseSensStats(readFileSync(gpuOut, 'utf8'), gpuOut);
      expect(cpu.readings.backend).toMatch(/^cpu/);
      expect(gpu.readings.backend).toMatch(/^webgpu \(/);
      expect(gpu.readings.precision).toMatch(/f32/);
      expect(gpu.samples).toEqual(cpu.samples);
      expect(Object.keys(gpu.layers).sort()).toEqual(Object.keys(cpu.layers).sort());
      for (const [layer, v] of Object.entries(cpu.layers))
        expect(Math.abs(gpu.layers[layer]!.elementwise - v.elementwise) / v.elementwise, layer).toBeLessThan(REL);
    },
  );

  it('refuses an unknown backend', async () => {
    await expect(cli('tpu', path.join(tmp, 'x.json'))).rejects.toMatchObject({
      stderr: expect.stringMatching(/--backend must be one of cpu, webgpu/),
    });
  });
});
