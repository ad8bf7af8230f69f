// The page's sensitivity worker API in Node (the same module the Web Worker runs): it calibrates
// from in-memory model files to the statistics the CLI writes, refuses a set with no usable target
// token with the typed error, names an unknown backward pass, and cancels with an AbortError.
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AbortError } from '../../src/core/errors';
import { CalibrationTextError } from '../../src/core/sens/calibration-text';
import {
  type SensitivityRequest,
  SensWorkerError,
  createSensitivityWorkerApi,
} from '../../src/workers/sensitivity.worker';

const SET = 'public/data/arith-heldout.jsonl';
const model = (name: string) => {
  const dir = path.join('public/models', name);
  return { name, files: Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))])) };
};
const request = (o: Partial<SensitivityRequest> = {}): SensitivityRequest => ({
  model: model('demo-slow'),
  compare: [model('demo-quick')],
  setText: readFileSync(SET, 'utf8'),
  setName: 'arith-heldout',
  answers: 'short',
  samples: 1,
  seed: 1,
  maxTokens: null,
  ...o,
});

describe('sensitivity worker API', () => {
  it('calibrates in-memory model files: every layer group, the distance to the other model', async () => {
    const steps: string[] = [];
    const stats = await createSensitivityWorkerApi().calibrate(request(), (d, n, phase) => {
      steps.push(`${phase} ${d}/${n}`);
    });
    expect(stats.model).toBe('demo-slow');
    expect(Object.keys(stats.layers)).toHaveLength(7);
    expect(stats.logitDistances['demo-quick']).toBeGreaterThan(0);
    expect(steps).toEqual(['gradients 1/2', 'distances 2/2']);
  }, 60_000);

  it('refuses a set with no usable target token, an unknown pass, and cancels', async () => {
    const api = createSensitivityWorkerApi();
    const none = await api.calibrate(request({ maxTokens: 1 })).catch((e) => e);
    expect(none).toBeInstanceOf(CalibrationTextError);
    expect(none.code).toBe('no-target-tokens');
    const tpu = await api.calibrate(request({ backend: 'tpu' as 'cpu' })).catch((e) => e);
    expect(tpu).toBeInstanceOf(SensWorkerError);
    expect(tpu.message).toMatch(/no 'tpu' backward pass \(available: cpu, webgpu\)/);
    const running = api.calibrate(request({ samples: 20 }), () => api.cancel());
    await expect(running).rejects.toBeInstanceOf(AbortError);
  }, 60_000);
});
