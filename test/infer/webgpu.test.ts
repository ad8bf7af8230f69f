/**
 * The WebGPU EP in Node (Dawn's `webgpu` package on a Vulkan ICD, e.g. lavapipe from
 * scripts/setup-vulkan.sh, found by src/node/webgpu-env.ts) gives the same greedy output as the
 * wasm EP. Without an adapter this test FAILS. Slow on a CPU Vulkan driver: the first run
 * compiles every shader (about a minute on 2 busy cores).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ChatModel } from '../../src/infer/engine';
import { generate } from '../../src/infer/generate';
import { CausalLM } from '../../src/infer/model';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { probeWebGpu } from '../../src/infer/runtime';
import { FsModelFolder } from '../../src/node/fs-folder';
import { TINY, tinyCkpt } from './fixtures';
import { maxAbsDiff } from './reference';

const adapter = nodeRuntimeAdapter();
const probe = await probeWebGpu(adapter);
if (!probe.ok)
  throw new Error(
    `no WebGPU adapter for the WebGPU EP test: ${probe.reason}. Run \`bash scripts/setup-vulkan.sh\` (scripts/test.sh does)`,
  );

describe('WebGPU EP (Node, Dawn)', () => {
  const models: CausalLM[] = [];
  afterAll(async () => {
    for (const m of models) await m.release();
  });

  // hidden 32 → head_dim 16: GroupQueryAttention; TINY's head_dim 8: standard ONNX attention.
  it.each([
    ['gqa', { ...TINY, seed: 21, hidden: 32 }],
    ['onnx', { ...TINY, seed: 22 }],
  ] as const)('%s attention: the same greedy tokens and logits as wasm', { timeout: 600_000 }, async (attention, o) => {
    const ckpt = await tinyCkpt(o);
    const wasm = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter });
    const gpu = await CausalLM.fromCheckpoint(ckpt, { ep: 'webgpu', adapter });
    models.push(wasm, gpu);
    expect(gpu.ep.ep).toBe('webgpu');
    expect([wasm.graph.attention, gpu.graph.attention]).toEqual([attention, attention]);
    console.log(`WebGPU adapter: ${gpu.ep.adapter}`);
    const prompt = [3, 17, 0, 39, 8, 8, 21];
    const a = await generate(wasm, prompt, { maxNewTokens: 12 });
    const b = await generate(gpu, prompt, { maxNewTokens: 12 });
    expect(b.ids).toEqual(a.ids);
    const la = await wasm.forward([...prompt, ...a.ids]);
    const lb = await gpu.forward([...prompt, ...a.ids]);
    gpu.releaseCache(lb.cache);
    const diff = maxAbsDiff(la.logits, lb.logits);
    console.log(
      `WebGPU vs wasm (${attention}): greedy ids ${a.ids.join(',')}; last-position logits max abs diff ${diff.toExponential(2)}`,
    );
    expect(diff).toBeLessThan(1e-4);
  });

  it(
    'a bf16 checkpoint in f32 weights: the WebGPU EP loads it (no bf16 Cast) and gives the logits of wasm',
    { timeout: 600_000 },
    async () => {
      const ckpt = await tinyCkpt({ ...TINY, seed: 23, hidden: 32, dtype: 'BF16' });
      const wasm = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, weights: 'f32' });
      const gpu = await CausalLM.fromCheckpoint(ckpt, { ep: 'webgpu', adapter, weights: 'f32' });
      models.push(wasm, gpu);
      expect(gpu.ep.ep).toBe('webgpu');
      const prompt = [3, 17, 0, 39, 8];
      const a = await generate(wasm, prompt, { maxNewTokens: 8 });
      const b = await generate(gpu, prompt, { maxNewTokens: 8 });
      expect(b.ids).toEqual(a.ids);
      const la = await wasm.forward(prompt);
      const lb = await gpu.forward(prompt);
      gpu.releaseCache(lb.cache);
      expect(maxAbsDiff(la.logits, lb.logits)).toBeLessThan(1e-4);
    },
  );

  it('the demo model answers a text prompt with the same greedy tokens on both EPs', { timeout: 600_000 }, async () => {
    const prompt = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';
    const answers = [];
    for (const ep of ['wasm', 'webgpu'] as const) {
      const m = await ChatModel.load(new FsModelFolder('public/models/demo-base'), { ep, adapter });
      expect(m.ep.ep).toBe(ep);
      answers.push(await m.ask(prompt, { maxNewTokens: 12 }));
      await m.release();
    }
    console.log(`demo-base, wasm and WebGPU: ${JSON.stringify(answers[0]!.text)}`);
    expect(answers[1]!.ids).toEqual(answers[0]!.ids);
    expect(answers[1]!.text).toBe(answers[0]!.text);
  });
});
