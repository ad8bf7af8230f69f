/**
 * The memory plan for a batch: KV cache and activations grow with the batch, and a batch that does
 * not fit is refused before any weight is read, naming the largest batch that fits.
 */
import { describe, expect, it } from 'vitest';
import { BatchLM } from '../../src/infer/batch-model';
import { largestBatch } from '../../src/infer/batch-plan';
import { InferError } from '../../src/infer/errors';
import { fittingBatch, planModelOf } from '../../src/infer/load-plan';
import { modelSpec } from '../../src/infer/architecture';
import { parseModelConfig } from '../../src/core/formats/model-config';
import { QWEN_15B_FIELDS } from './shapes';
import { planInferenceMemory } from '../../src/infer/memory-plan';
import { specOf } from '../../src/infer/model';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';

const DEMO = 'public/models/demo-slow';

describe('batch memory plan', () => {
  it('a batch that cannot fit is refused with the largest batch that does', async () => {
    const opts = { ep: 'wasm' as const, adapter: nodeRuntimeAdapter(), tokenBudget: 512, batchSize: 100_000 };
    const err = await BatchLM.load(new FsModelFolder(DEMO), opts).catch((e) => e);
    expect(err).toBeInstanceOf(InferError);
    expect(err.code).toBe('does-not-fit');
    const m =
      /^a batch of 100000 does not fit; a batch of up to (\d+) fits with 512 tokens each \(for one batch of 100000: .+\)$/.exec(
        err.message,
      );
    expect(m, err.message).not.toBeNull();
    const fitting = Number(m![1]);
    // The number is the plan's: that batch fits, one more does not.
    const ckpt = await Checkpoint.open(new FsModelFolder(DEMO), { requireConfig: true });
    const req = {
      model: planModelOf(specOf(ckpt)),
      weights: 'f32' as const,
      tokenBudget: 512,
      target: { kind: 'wasm' as const },
    };
    expect(planInferenceMemory({ ...req, batch: fitting }).fits).toBe(true);
    expect(planInferenceMemory({ ...req, batch: fitting + 1 }).fits).toBe(false);
    expect(largestBatch({ ...req, batch: 100_000 })).toBe(fitting);
    expect(fitting).toBeGreaterThan(8);
    expect(largestBatch({ ...req, batch: 4 })).toBe(4);
  });
});

describe('fittingBatch (the default batch)', () => {
  it('is the largest batch the plan fits, capped; 0 when not even one sequence fits', async () => {
    const spec = modelSpec(
      parseModelConfig(
        JSON.stringify({ architectures: ['Qwen2ForCausalLM'], ...QWEN_15B_FIELDS, max_position_embeddings: 32768 }),
      ),
      true,
    );
    const wasm = { ep: 'wasm' as const, weights: 'q4' as const, tokenBudget: 10240 };
    // Each sequence adds its KV cache (f16: 57 KB a token) and activations: a longer budget fits fewer.
    const big = await fittingBatch(spec, wasm, 64);
    expect(big).toBeGreaterThan(1);
    expect(big).toBeLessThan(64);
    expect(await fittingBatch(spec, wasm, 2)).toBe(2);
    expect(await fittingBatch(spec, { ...wasm, tokenBudget: 32768 }, 64)).toBeLessThan(big);
    expect(await fittingBatch(spec, { ...wasm, weights: 'f32' }, 8)).toBe(0);
  });
});
