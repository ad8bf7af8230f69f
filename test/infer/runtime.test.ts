/** EP choice and its report: WebGPU when a hardware adapter exists, otherwise wasm, and why. */
import { describe, expect, it } from 'vitest';
import { CausalLM } from '../../src/infer/model';
import { nodeRuntimeAdapter } from '../../src/infer/node-adapter';
import { isSoftwareAdapter, probeWebGpu } from '../../src/infer/runtime';
import { TINY, tinyCkpt } from './fixtures';

const node = nodeRuntimeAdapter();
/** An environment without WebGPU (no navigator.gpu), as in a browser that lacks it. */
const noGpu = { ...node, gpu: async () => undefined };

describe('execution provider choice', () => {
  it('auto without WebGPU falls back to wasm and says why', async () => {
    const lm = await CausalLM.fromCheckpoint(await tinyCkpt(TINY), { ep: 'auto', adapter: noGpu });
    expect(lm.ep).toEqual({ ep: 'wasm', reason: 'fell back to wasm: navigator.gpu is not available in this environment' });
    await lm.release();
  });

  it('an explicit webgpu request without WebGPU is an error, not a silent fallback', async () => {
    await expect(CausalLM.fromCheckpoint(await tinyCkpt(TINY), { ep: 'webgpu', adapter: noGpu })).rejects.toThrow(
      /the WebGPU EP was requested but navigator.gpu is not available/,
    );
  });

  it('auto prefers wasm over a CPU-emulated WebGPU adapter (lavapipe, SwiftShader) and names it', async () => {
    expect(isSoftwareAdapter('mesa software llvmpipe-llvm-15')).toBe(true);
    expect(isSoftwareAdapter('google swiftshader')).toBe(true);
    expect(isSoftwareAdapter('nvidia ampere NVIDIA GeForce RTX 3090')).toBe(false);
    const probe = await probeWebGpu(node);
    const lm = await CausalLM.fromCheckpoint(await tinyCkpt(TINY), { ep: 'auto', adapter: node });
    if (probe.ok && probe.software) expect(lm.ep.reason).toMatch(/runs on the CPU; wasm is faster there/);
    expect(lm.ep.ep).toBe(probe.ok && !probe.software ? 'webgpu' : 'wasm');
    await lm.release();
  });
});
