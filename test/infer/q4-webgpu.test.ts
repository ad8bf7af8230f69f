/**
 * q4 (MatMulNBits) and f16 weights on the WebGPU EP in Node (Dawn on lavapipe): the logits of the
 * plain-TS reference over the weights each format computes with, as on wasm (./q4.test.ts).
 * Without an adapter this test FAILS (as test/infer/webgpu.test.ts). Slow on a CPU Vulkan driver.
 */
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { CausalLM } from '../../src/infer/model';
import { probeWebGpu } from '../../src/infer/runtime';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { tinyModelFiles } from '../helpers/checkpoints';
import { maxAbsDiff, referenceLogits } from './reference';
import { computedWeights } from './weight-reference';

const adapter = nodeRuntimeAdapter();
const probe = await probeWebGpu(adapter);
if (!probe.ok)
  throw new Error(`no WebGPU adapter for the WebGPU EP test: ${probe.reason}. Run \`bash scripts/setup-vulkan.sh\``);

const IDS = [3, 17, 5, 42, 9, 1];
// head_dim 64, tied: the q4 lm_head is a MatMulNBits over the packed embedding.
const files = tinyModelFiles({ seed: 65, hidden: 128, intermediate: 256, vocab: 96, layers: 2, tied: true });

describe('weight formats on the WebGPU EP (Node, Dawn)', () => {
  it.each(['q4', 'f16'] as const)(
    '%s: logits = reference over the weights it computes with',
    { timeout: 600_000 },
    async (weights) => {
      const ckpt = await Checkpoint.open(new MapModelFolder('tiny-65', files));
      // f32 compute: exact to the reference over these weights (f16 compute: ./f16-compute-webgpu.test.ts)
      const lm = await CausalLM.fromCheckpoint(ckpt, {
        ep: 'webgpu',
        adapter,
        allLogits: true,
        weights,
        compute: 'f32',
      });
      expect(lm.ep.ep).toBe('webgpu');
      const out = await lm.forward(IDS);
      lm.releaseCache(out.cache);
      await lm.release();
      const diff = maxAbsDiff(out.logits, await referenceLogits(await computedWeights(ckpt, weights), IDS));
      console.log(`WebGPU ${weights}: max |Δlogit| ${diff.toExponential(2)} (${lm.ep.adapter})`);
      expect(diff).toBeLessThan(1e-3);
    },
  );
});
