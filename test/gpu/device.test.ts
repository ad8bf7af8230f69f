/**
 * Device acquisition and loss: the adapter is reported; a lost device fails the running merge with
 * a clear error (and every later call on that backend), and the next merge gets a new device.
 */
import { describe, expect, it } from 'vitest';
import { MergeError } from '../../src/core/errors';
import { GpuDeviceLostError, acquireGpuDevice } from '../../src/gpu/device';
import { nodeGpu } from '../../src/node/webgpu-env';
import { tinyCheckpoint } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { gpuBackend, requireGpu } from './gpu-env';

await requireGpu();
const TA = `merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.5}}]`;

describe('device acquisition and loss', () => {
  it('reports the adapter and its limits', async () => {
    const dev = await acquireGpuDevice(await nodeGpu());
    expect(dev.adapter.name).toBeTruthy();
    expect(dev.adapter.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    expect(dev.device.limits.maxStorageBufferBindingSize).toBe(dev.adapter.limits.maxStorageBufferBindingSize);
    // Windows are bound at offsets of the reported alignment, so the device must accept them.
    expect(dev.device.limits.minStorageBufferOffsetAlignment).toBe(dev.adapter.limits.minStorageBufferOffsetAlignment);
    expect(await acquireGpuDevice(await nodeGpu())).toBe(dev); // shared while alive
  });

  it('loss → clear error for this merge, a new device for the next', async () => {
    const models = [await tinyCheckpoint('base', { seed: 1 }), await tinyCheckpoint('a', { seed: 2 })];
    const be = await gpuBackend();
    const x = await be.load(new Uint8Array(new Float32Array([1, 2, 3]).buffer), 'F32');
    const dev = await acquireGpuDevice(await nodeGpu());
    dev.device.destroy();
    for (let i = 0; i < 100 && !dev.lost; i++) await new Promise((r) => setTimeout(r, 10));
    expect(dev.lost).toBeDefined();
    await expect(be.store(x, 'F32')).rejects.toBeInstanceOf(GpuDeviceLostError);
    const failed = runMerge(TA, models, { backend: be });
    // The merge names the tensor it was merging and keeps the GPU's own error as the cause.
    await expect(failed).rejects.toBeInstanceOf(MergeError);
    await expect(failed).rejects.toMatchObject({
      code: 'backend',
      tensor: expect.any(String),
      cause: expect.any(GpuDeviceLostError),
    });
    await expect(failed).rejects.toThrow(/device lost.*next merge requests a new device/);

    const fresh = await gpuBackend();
    const dev2 = await acquireGpuDevice(await nodeGpu());
    expect(dev2).not.toBe(dev);
    const ok = await runMerge(TA, models, { backend: fresh });
    const cpu = await runMerge(TA, models);
    expect(ok.summary.tensors).toBe(cpu.summary.tensors);
    expect(await ok.raw('model.norm.weight')).toEqual(await cpu.raw('model.norm.weight'));
    await fresh.dispose();
    await be.dispose();
  });
});
