/**
 * Batched evaluation in the evaluation worker (src/workers/eval.worker.ts through eval-client.ts)
 * over a real MessageChannel in Node, wasm EP, as the Compare step uses it: a model loaded with
 * batchSize 4 answers 12 problems four at a time with exactly the responses of batch 1, streams
 * text for every problem, keeps records in the problems' order and reports the batch's aggregate
 * tok/s (also in q4 weights); cancelling mid-batch rejects with an AbortError and frees the worker; a batch larger than
 * the one a model was loaded for, or not a positive integer, is refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AbortError } from '../../src/core/errors';
import type { EvalRequest } from '../../src/workers/eval-client';
import { folderBlobs, useEvalWorker } from '../helpers/eval-worker';

const SET = readFileSync('public/data/arith-heldout.jsonl', 'utf8');
const request = (models: string[], batch: number, limit = 12, maxNewTokens = 96): EvalRequest => ({
  models: models.map((name) => ({ name })),
  setText: SET,
  setName: 'arith-heldout',
  limit,
  maxNewTokens,
  batch,
});

describe('batched evaluation in the worker (the Compare step with Batch > 1)', () => {
  const client = useEvalWorker();

  it(
    'batch 4 gives batch 1 responses on 12 problems, streaming every one, in the problems order',
    { timeout: 600_000 },
    async () => {
      for (const name of ['demo-slow', 'demo-quick']) {
        const files = folderBlobs(`public/models/${name}`);
        await client.load(`${name}@1`, files, 'wasm');
        await client.load(`${name}@4`, files, 'wasm', { batchSize: 4, tokenBudget: 256 });
      }
      expect(await client.loadedFormat('demo-slow@4')).toMatchObject({ format: 'f32', tokenBudget: 256 });
      const one = await client.evaluate(request(['demo-slow@1', 'demo-quick@1'], 1));
      expect(one.models.every((m) => m.tokPerS === undefined)).toBe(true);

      const streamed = new Map<string, Set<string>>();
      const finished: string[] = [];
      const four = await client.evaluate(request(['demo-slow@4', 'demo-quick@4'], 4), {
        onText: (m, id) => void streamed.set(m, (streamed.get(m) ?? new Set()).add(id)),
        onResponse: (m, r) => void finished.push(`${m}:${r.problemId}`),
      });
      expect(four.set.problems).toBe(12);
      const ids = one.models[0]!.responses.map((r) => r.problemId);
      expect(new Set(ids).size).toBe(12);
      for (const [i, m] of four.models.entries()) {
        expect(m.responses.map((r) => r.problemId)).toEqual(ids); // the problems' order, not finishing order
        expect(m.responses).toEqual(one.models[i]!.responses);
        expect(m.metrics).toEqual(one.models[i]!.metrics);
        expect(m.tokPerS).toBeGreaterThan(0);
      }
      // demo-slow's answers are long: the batch really overlaps them, and each streamed.
      expect(one.models[0]!.responses.reduce((n, r) => n + r.tokens, 0)).toBeGreaterThan(12 * 20);
      await expect.poll(() => finished.length).toBe(24);
      await expect.poll(() => streamed.get('demo-slow@4')?.size).toBe(12);
      await expect.poll(() => streamed.get('demo-quick@4')?.size).toBe(12);
    },
  );

  it('cancel mid-batch stops the whole batch: the call rejects with an AbortError', { timeout: 300_000 }, async () => {
    const ac = new AbortController();
    const growing = new Set<string>();
    const finished: string[] = [];
    let abortedAt = 0;
    const err = await client
      .evaluate(request(['demo-slow@4'], 4, 12, 400), {
        signal: ac.signal,
        onText: (_, id) => {
          growing.add(id);
          if (growing.size < 3 || ac.signal.aborted) return;
          abortedAt = Date.now(); // several sequences of the batch are in flight
          ac.abort();
        },
        onResponse: (_, r) => void finished.push(r.problemId),
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ name: 'AbortError', code: 'aborted' });
    const stopMs = Date.now() - abortedAt;
    expect(finished.length).toBeLessThan(12);
    const started = Date.now();
    const full = await client.evaluate(request(['demo-slow@4'], 4, 12, 400));
    expect(full.models[0]!.responses).toHaveLength(12); // the worker is free again
    // The whole batch stopped at once, not after its sequences ran out.
    expect(stopMs).toBeLessThan((Date.now() - started) / 2);
  });

  it('q4 weights: batch 4 gives batch 1 responses, planned for the batch', { timeout: 300_000 }, async () => {
    const files = folderBlobs('public/models/demo-slow');
    await client.load('slow-q4@1', files, 'wasm', { weights: 'q4', tokenBudget: 256 });
    await client.load('slow-q4@4', files, 'wasm', { weights: 'q4', tokenBudget: 256, batchSize: 4 });
    const one = await client.loadedFormat('slow-q4@1');
    const four = await client.loadedFormat('slow-q4@4');
    expect(four).toMatchObject({ format: 'q4', blockSize: 32 });
    expect(four!.summary).not.toEqual(one!.summary); // the KV cache of 4 sequences is planned
    const a = await client.evaluate(request(['slow-q4@1'], 1, 6));
    const b = await client.evaluate(request(['slow-q4@4'], 4, 6));
    expect(b.models[0]!.responses).toEqual(a.models[0]!.responses);
    for (const n of ['slow-q4@1', 'slow-q4@4']) await client.unload(n);
  });

  it('planFormats gives, per format, the largest batch up to 32 the plan fits (Batch "auto")', async () => {
    const models = new Map([['demo-slow', folderBlobs('public/models/demo-slow')]]);
    const roomy = await client.planFormats(models, 'wasm', { tokenBudget: 512 });
    expect(roomy!.plans.map((p) => p.format)).toEqual(['f32', 'f16', 'q4']);
    expect(roomy!.batches).toEqual([32, 32, 32]); // the same cap as merge-lab eval --batch auto
    expect(roomy!.maxBatch).toBe(32);
    // A heap that holds the weights and only a few sequences' KV cache and activations: fewer fit.
    const tight = await client.planFormats(models, 'wasm', { tokenBudget: 4096, wasmHeapBytes: 300 * 2 ** 20 });
    expect(tight!.batches[0]).toBeLessThan(8);
    expect(tight!.batches[2]).toBeGreaterThanOrEqual(tight!.batches[0]!); // q4 leaves more room than f32
  });

  it('refuses a batch above the loaded one, and a batch that is not a positive integer', async () => {
    for (const [name, batch] of [
      ['demo-quick@1', 2],
      ['demo-quick@4', 5],
      ['demo-quick@4', 0],
      ['demo-quick@4', 1.5],
    ] as const) {
      const err = await client.evaluate(request([name], batch, 1, 8)).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('RangeError');
    }
    // Batch 1 on a model loaded for 4 runs one sequence at a time through the batched graph.
    const run = await client.evaluate(request(['demo-quick@4'], 1, 2, 16));
    expect(run.models[0]!.responses).toHaveLength(2);
  });
});
