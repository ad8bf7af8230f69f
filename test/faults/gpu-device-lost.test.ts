/**
 * A GPU device lost in the middle of a merge (the real Dawn device on lavapipe, destroyed with
 * GPUDevice.destroy()): the merge fails at once with a MergeError naming the tensor in flight and
 * saying what to do, keeps the GPU's own error as its cause, leaves no output, and never waits
 * forever on a readback; the next merge gets a new device. From the terminal: exit 1, the message,
 * a hint naming --backend cpu, no output folder.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MergeError } from '../../src/core/errors';
import type { Checkpoint } from '../../src/core/formats/checkpoint';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import type { TensorBackend } from '../../src/core/merge/backend';
import { type MergeOptions, merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { GpuContext } from '../../src/gpu/context';
import { GpuDeviceLostError, acquireGpuDevice } from '../../src/gpu/device';
import { nodeGpu } from '../../src/node/webgpu-env';
import { tinyCheckpoint, writeTinyModel } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { gpuBackend, requireGpu } from '../gpu/gpu-env';

await requireGpu();
const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const SHAPE = { layers: 2, hidden: 32, intermediate: 48, vocab: 64 };
const TIES = 'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.8, density: 0.3}}]\n';
const models = async () => [
  await tinyCheckpoint('base', { seed: 1, ...SHAPE }),
  await tinyCheckpoint('a', { seed: 2, ...SHAPE }),
];

/** Runs TIES on a fresh WebGPU backend; `fault` may destroy the device; the merge must settle within 10 s. */
async function mergeLosingDevice(
  fault: (device: GPUDevice, backend: TensorBackend<unknown>) => Partial<MergeOptions>,
): Promise<{ error: unknown; out: MemoryOutputFolder; inFlight: string[] }> {
  const backend = (await gpuBackend()) as TensorBackend<unknown>;
  const { device } = await acquireGpuDevice(await nodeGpu());
  const out = new MemoryOutputFolder();
  const sources = new Map<string, Checkpoint>((await models()).map((m) => [m.name, m]));
  const inFlight: string[] = [];
  const bound = new Promise((_, reject) => setTimeout(() => reject(new Error('the merge hung')), 10_000));
  const error = await Promise.race([
    merge(parseRecipe(TIES).recipe, sources, backend, out, {
      chunkElements: 256,
      ...fault(device, backend),
      onTensor: (name) => inFlight.push(name),
    }),
    bound,
  ]).catch((e: unknown) => e);
  await backend.dispose?.();
  return { error, out, inFlight };
}

function expectLostDeviceError(error: unknown, tensor?: string) {
  expect(error).toBeInstanceOf(MergeError);
  expect(error).toMatchObject({ code: 'backend', tensor: tensor ?? expect.any(String) });
  expect((error as MergeError).cause).toBeInstanceOf(GpuDeviceLostError);
  expect((error as Error).message).toMatch(
    /the GPU device was lost while merging this tensor on webgpu .*Nothing of this merge is kept: run it again, or merge on the CPU/,
  );
}

describe('a GPU device lost mid-merge', () => {
  it('after 3 tensors (from the progress callback): the next tensor fails, named; nothing written', async () => {
    let progressTensor = '';
    const { error, out, inFlight } = await mergeLosingDevice((device) => ({
      onProgress: (p) => {
        if (p.tensorsDone === 3 && !progressTensor) {
          progressTensor = p.currentTensor;
          device.destroy();
        }
      },
    }));
    expect(inFlight.length).toBeGreaterThanOrEqual(3);
    expect(inFlight.length).toBeLessThanOrEqual(4);
    expectLostDeviceError(error);
    // The tensor named is the first one the lost device did not finish.
    expect((error as MergeError).tensor).not.toBe(inFlight.at(-1));
    expect(await out.list()).toEqual([]);
  });

  it('while a readback (mapAsync) is pending: the wait ends with the loss, no hang', async () => {
    let stores = 0;
    const { error, out } = await mergeLosingDevice((device, backend) => {
      const store = backend.store.bind(backend);
      backend.store = (x, dtype) => {
        const pending = store(x, dtype);
        if (++stores === 5) device.destroy();
        return pending;
      };
      return {};
    });
    expect(stores).toBe(5);
    expectLostDeviceError(error);
    expect(await out.list()).toEqual([]);
  });

  it('a wait that would never settle on its own ends with the loss (the bound behind every readback)', async () => {
    const { device } = await acquireGpuDevice(await nodeGpu());
    const ctx = await GpuContext.create(device);
    const never = ctx.whileAlive(new Promise<never>(() => undefined));
    device.destroy();
    await expect(never).rejects.toBeInstanceOf(GpuDeviceLostError);
    await expect(ctx.whileAlive(Promise.resolve(1))).rejects.toBeInstanceOf(GpuDeviceLostError);
  });

  it('the next merge gets a new device and completes', async () => {
    const ok = await runMerge(TIES, await models(), { backend: (await gpuBackend()) as TensorBackend<unknown> });
    const cpu = await runMerge(TIES, await models());
    expect(ok.summary.tensors).toBe(cpu.summary.tensors);
    expect(await ok.raw('model.layers.1.mlp.up_proj.weight')).toEqual(
      await cpu.raw('model.layers.1.mlp.up_proj.weight'),
    );
  });
});

describe('merge-lab merge --backend webgpu losing its device', () => {
  it('exits 1 with the message and a hint, and leaves no output folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-device-lost-'));
    writeTinyModel(path.join(dir, 'base'), { seed: 1, ...SHAPE });
    writeTinyModel(path.join(dir, 'a'), { seed: 2, ...SHAPE, shards: 2 });
    writeFileSync(path.join(dir, 'ties.yml'), TIES);
    const out = path.join(dir, 'merged');
    const err = await run(
      'node',
      ['--import', './test/faults/fixtures/lose-gpu-device.mjs', BIN, 'merge', path.join(dir, 'ties.yml')].concat([
        '--out',
        out,
        '--backend',
        'webgpu',
      ]),
      { env: { ...process.env, LOSE_GPU_DEVICE_AFTER_SUBMITS: '12' } },
    ).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/fault: the GPU device destroyed after submit 12/);
    expect(err.stderr).toMatch(
      /merge-lab merge: MergeError: tensor '[\w.]+': the GPU device was lost while merging this tensor on webgpu \(llvmpipe.*\): WebGPU device lost \(destroyed\)/,
    );
    expect(err.stderr).toMatch(/hint: run the same command again .*or add --backend cpu/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
