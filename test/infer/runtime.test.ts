/** EP choice and its report: WebGPU when a hardware adapter exists, otherwise wasm, and why. */
import { describe, expect, it } from 'vitest';
import { CausalLM } from '../../src/infer/model';
import { probeWebGpu } from '../../src/infer/runtime';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { TINY, tinyCkpt } from './fixtures';

const node = nodeRuntimeAdapter();
/** An environment without WebGPU (no navigator.gpu), as in a browser that lacks it. */
const noGpu = { ...node, gpu: async () => undefined };
/** A WebGPU whose only adapter is described as `description` (and flagged as a fallback adapter or not). */
const gpuWith = (description: string, isFallbackAdapter = false) => ({
  ...node,
  gpu: async () =>
    ({
      requestAdapter: async () => ({
        info: { vendor: '', architecture: '', device: '', description, isFallbackAdapter },
      }),
    }) as unknown as GPU,
});

describe('execution provider choice', () => {
  it('auto without WebGPU falls back to wasm and says why', async () => {
    const lm = await CausalLM.fromCheckpoint(await tinyCkpt(TINY), { ep: 'auto', adapter: noGpu });
    expect(lm.ep).toEqual({
      ep: 'wasm',
      reason: 'fell back to wasm: navigator.gpu is not available in this environment',
    });
    await lm.release();
  });

  it('an explicit webgpu request without WebGPU is an error, not a silent fallback', async () => {
    await expect(CausalLM.fromCheckpoint(await tinyCkpt(TINY), { ep: 'webgpu', adapter: noGpu })).rejects.toThrow(
      /the WebGPU EP was requested but navigator.gpu is not available/,
    );
  });

  it('tells CPU-emulated adapters (lavapipe, SwiftShader, fallback adapters) from hardware ones', async () => {
    const software = async (d: string, fallback = false) => {
      const p = await probeWebGpu(gpuWith(d, fallback));
      return p.ok ? p.software : p.reason;
    };
    expect(await software('mesa software llvmpipe-llvm-15')).toBe(true);
    expect(await software('google swiftshader')).toBe(true);
    expect(await software('some adapter', true)).toBe(true);
    expect(await software('nvidia ampere NVIDIA GeForce RTX 3090')).toBe(false);
  });

  it('auto prefers wasm over a CPU-emulated WebGPU adapter and names it', async () => {
    const lm = await CausalLM.fromCheckpoint(await tinyCkpt(TINY), {
      ep: 'auto',
      adapter: gpuWith('mesa software llvmpipe-llvm-15'),
    });
    expect(lm.ep.ep).toBe('wasm');
    expect(lm.ep.reason).toMatch(
      /the only WebGPU adapter \(mesa software llvmpipe-llvm-15\) runs on the CPU; wasm is faster there/,
    );
    await lm.release();
  });
});
