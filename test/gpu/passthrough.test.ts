/** issue 19 on WebGPU (lavapipe): passthrough with slices gives the CPU reference's bytes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebGpuBackend } from '../../src/gpu/backend';
import { runSlices } from '../helpers/passthrough-cases';
import { gpuBackend, requireGpu } from './gpu-env';

await requireGpu();

describe('passthrough with slices on WebGPU', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await gpuBackend();
  });
  afterAll(async () => {
    await gpu?.dispose();
  });

  it('writes the same files as the CPU reference', async () => {
    const cpu = await runSlices();
    const g = await runSlices({ backend: gpu });
    expect(g.summary.backend).toMatch(/^webgpu/);
    expect([...g.out.files.keys()].sort()).toEqual([...cpu.out.files.keys()].sort());
    for (const [f, bytes] of cpu.out.files)
      expect(Buffer.from(g.out.files.get(f)!).equals(Buffer.from(bytes)), f).toBe(true);
  });
});
