/**
 * Batched generation on the WebGPU EP in Node (Dawn on a Vulkan ICD, e.g. lavapipe): continuous
 * batching gives the greedy token ids of one-at-a-time generate() on the same EP, with both
 * attention forms, the KV cache staying in GPU buffers between decode steps. Without an adapter this test FAILS (as test/infer/webgpu.test.ts). Slow on a
 * CPU Vulkan driver, so fewer problems and tokens than the wasm test. Calibration (activation sums)
 * at batch 3 matches batch 1 on WebGPU (padding rows masked out of the sums).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { batchGenerate } from '../../src/infer/batch-generate';
import { calibrateIds } from '../../src/infer/calibrate';
import { BatchLM } from '../../src/infer/batch-model';
import { ChatModel } from '../../src/infer/engine';
import { generate } from '../../src/infer/generate';
import { probeWebGpu } from '../../src/infer/runtime';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';

const adapter = nodeRuntimeAdapter();
const probe = await probeWebGpu(adapter);
if (!probe.ok)
  throw new Error(
    `no WebGPU adapter for the batched WebGPU test: ${probe.reason}. Run \`bash scripts/setup-vulkan.sh\` (scripts/test.sh does)`,
  );

const DEMO = 'public/models/demo-slow';
const questions = readFileSync('public/data/arith-heldout.jsonl', 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { question: string }).question);
/** 6 problems over the levels: answers of different lengths, some past the token limit. */
const PROBLEMS = Array.from({ length: 6 }, (_, i) => questions[Math.floor((i * questions.length) / 6)]!);

describe('batched generation on the WebGPU EP', () => {
  it.each(['gqa', 'onnx'] as const)(
    '%s attention: batch 3 and 6 give the greedy ids of one at a time',
    { timeout: 900_000 },
    async (attention) => {
      const opts = { ep: 'webgpu' as const, adapter, attention };
      const chat = await ChatModel.load(new FsModelFolder(DEMO), opts);
      const lm = await BatchLM.load(new FsModelFolder(DEMO), opts);
      try {
        expect([chat.ep.ep, lm.ep.ep]).toEqual(['webgpu', 'webgpu']);
        const prompts = PROBLEMS.map((q) => chat.tokenizer.encode(chat.promptText(q)));
        // The cache stays in GPU buffers between steps; a regroup reads it back.
        const step = await lm.forward([prompts[0]!], lm.emptyCache());
        expect(step.cache.tensors.get('past.0.key')!.location).toBe('gpu-buffer');
        const grouped = await lm.regroup([
          { cache: step.cache, row: 0 },
          { cache: step.cache, row: 0 },
        ]);
        expect(grouped.lengths).toEqual([prompts[0]!.length, prompts[0]!.length]);
        lm.releaseCache(step.cache);
        const g = { maxNewTokens: 90, eosIds: chat.tokenizer.eosIds };
        const reference = [];
        for (const ids of prompts) reference.push(await generate(chat.lm, ids, g));
        expect(new Set(reference.map((r) => r.ids.length)).size).toBeGreaterThan(1);
        for (const batchSize of [3, 6]) {
          const run = await batchGenerate(lm, prompts, { ...g, batchSize });
          expect(run.results.map((r) => r.ids)).toEqual(reference.map((r) => r.ids));
          expect(run.results.map((r) => r.finishReason)).toEqual(reference.map((r) => r.finishReason));
          const t = run.timings;
          console.log(
            `WebGPU (${lm.ep.adapter}) ${attention} batch ${batchSize}: ${t.newTokens} tokens, ` +
              `decode ${t.decodeTokPerS.toFixed(0)} tok/s over ${t.decodeSteps} steps`,
          );
        }
      } finally {
        await chat.release();
        await lm.release();
      }
    },
  );

  it('calibration at batch 3 gives the statistics of batch 1 on the same EP', { timeout: 300_000 }, async () => {
    const ckpt = await Checkpoint.open(new FsModelFolder('public/models/demo-quick'));
    const seqs = PROBLEMS.slice(0, 5).map((q) => Array.from(q, (c) => c.charCodeAt(0) % ckpt.config!.vocabSize));
    const one = await calibrateIds(ckpt, seqs, 'toy', { ep: 'webgpu', adapter });
    const three = await calibrateIds(ckpt, seqs, 'toy', { ep: 'webgpu', adapter, batchSize: 3 });
    expect(three.calibration).toEqual(one.calibration);
    for (const [w, ref] of Object.entries(one.channels))
      ref.forEach((r, j) => expect(Math.abs(three.channels[w]![j]! - r)).toBeLessThanOrEqual(1e-4 * Math.max(1, r)));
  });
});
