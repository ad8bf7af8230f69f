// The page's sensitivity worker with `backend: 'webgpu'` (the WGSL backward pass, here on Dawn's
// lavapipe): the statistics equal the CPU twin's within 1e-4 per layer group and per logit
// distance, and the file's readings name the WebGPU pass. No adapter is a failure (requireGpu).
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/node/webgpu-env';
import { type SensitivityRequest, createSensitivityWorkerApi } from '../../src/workers/sensitivity.worker';
import { requireGpu } from '../gpu/gpu-env';

await requireGpu();

const model = (name: string) => {
  const dir = path.join('public/models', name);
  return { name, files: Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))])) };
};
const request = (backend: 'cpu' | 'webgpu'): SensitivityRequest => ({
  model: model('demo-slow'),
  compare: [model('demo-quick')],
  setText: readFileSync('public/data/arith-heldout.jsonl', 'utf8'),
  setName: 'arith-heldout',
  answers: 'short',
  samples: 1,
  seed: 1,
  maxTokens: null,
  backend,
});

describe('sensitivity worker on WebGPU', () => {
  it('gives the CPU twin’s statistics within 1e-4', async () => {
    const api = createSensitivityWorkerApi(() => nodeGpu());
    const cpu = await api.calibrate(request('cpu'));
    const gpu = await api.calibrate(request('webgpu'));
    expect(gpu.readings.backend).toMatch(/^webgpu/);
    expect(Object.keys(gpu.layers).sort()).toEqual(Object.keys(cpu.layers).sort());
    for (const [group, v] of Object.entries(cpu.layers)) {
      const g = gpu.layers[group]!;
      expect(Math.abs(g.elementwise - v.elementwise) / v.elementwise, group).toBeLessThan(1e-4);
    }
    const d = cpu.logitDistances['demo-quick']!;
    expect(Math.abs(gpu.logitDistances['demo-quick']! - d) / d).toBeLessThan(1e-4);
  }, 180_000);
});
