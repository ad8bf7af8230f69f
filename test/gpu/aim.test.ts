/** AIM-TIES on the WebGPU backend equals the CPU reference (whole merge, chunked, f32 and bf16). */
import { describe, expect, it } from 'vitest';
import type { ActivationStats } from '../../src/core/merge/activation-stats';
import { tinyCheckpoint, tinyTensorShapes } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { gpuBackend, requireGpu } from './gpu-env';
import { expectParity } from './parity';

await requireGpu();

const RECIPE = `merge_method: ties
base_model: quick
models: [{model: slow, parameters: {weight: 1, density: 0.2}}]
aim: {omega: 0.4, calibration: quick-stats.json}`;

describe('AIM on WebGPU', () => {
  it.each(['F32', 'BF16'] as const)('AIM-TIES parity with the CPU reference (%s)', async (dtype) => {
    const opts = { dtype, hidden: 16, intermediate: 24, vocab: 32 };
    const quick = await tinyCheckpoint('quick', { ...opts, seed: 1 });
    const slow = await tinyCheckpoint('slow', { ...opts, seed: 2, like: { seed: 1, scale: 0.05 } });
    const channels: Record<string, number[]> = {};
    for (const [name, shape] of tinyTensorShapes({ ...opts, seed: 0 }))
      if (shape.length === 2 && !/embed|lm_head/.test(name))
        channels[name] = Array.from({ length: shape[1]! }, (_, j) => 1 + ((j * 7) % 5));
    const stats: ActivationStats = {
      format: 'merge-lab-activation-stats',
      version: 1,
      model: 'quick',
      calibration: { set: 'toy', samples: 1, tokens: 1 },
      channels,
    };
    const be = await gpuBackend();
    const gpu = await runMerge(RECIPE, [quick, slow], { backend: be, activationStats: stats, chunkElements: 100 });
    await be.dispose();
    const cpu = await runMerge(RECIPE, [quick, slow], { activationStats: stats, chunkElements: 100 });
    expect(gpu.summary.warnings).toEqual(cpu.summary.warnings);
    await expectParity(gpu, cpu, quick.tensors.keys(), `aim-ties ${dtype}`);
  });
});
