/**
 * The evaluation worker the app uses (src/workers/eval.worker.ts through eval-client.ts) over a
 * real MessageChannel in Node, wasm EP: models load from Blobs, an evaluation streams progress,
 * text and responses and equals the same evaluation in-process, cancelling rejects with an
 * AbortError, and lab errors arrive with their class name, code and file. Weight formats: a q4
 * load evaluates and reports its format, the plans of every format come back for the page's
 * selector, and a model over the heap is refused with a typed 'does-not-fit' error.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AbortError, LabError } from '../../src/core/errors';
import { parseProblemSet } from '../../src/core/eval/problem-set';
import { evaluate } from '../../src/core/eval/run';
import { completionModel } from '../../src/infer/completion';
import { ChatModel } from '../../src/infer/engine';
import { WASM_OVERHEAD_BYTES } from '../../src/infer/memory-plan';
import { FsModelFolder } from '../../src/node/fs-folder';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { folderBlobs, useEvalWorker } from '../helpers/eval-worker';

const SET = readFileSync('public/data/arith-heldout.jsonl', 'utf8');

describe('evaluation worker (comlink, as the Compare step uses it)', () => {
  const client = useEvalWorker();

  it(
    'loads models from Blobs and evaluates them with streamed progress, the same run as in-process',
    { timeout: 300_000 },
    async () => {
      for (const name of ['demo-quick', 'demo-slow'])
        expect(await client.load(name, folderBlobs(`public/models/${name}`), 'wasm')).toEqual({
          ep: 'wasm',
          reason: 'requested',
        });
      const progress: number[] = [];
      const streamed = new Set<string>();
      const responses: string[] = [];
      const run = await client.evaluate(
        {
          models: [{ name: 'demo-quick' }, { name: 'demo-slow' }],
          setText: SET,
          setName: 'arith-heldout',
          limit: 3,
          maxNewTokens: 24,
        },
        {
          onProgress: (p) => void progress.push(p.done),
          onText: (m) => void streamed.add(m),
          onResponse: (m, r) => void responses.push(`${m}:${r.problemId}`),
        },
      );
      expect(run.set).toEqual({ name: 'arith-heldout', problems: 3, fewShotHeldOut: 0 });
      // Callbacks travel on their own ports: they may land just after the result.
      await expect.poll(() => progress.at(-1)).toBe(6);
      await expect.poll(() => responses.length).toBe(6);
      expect(streamed.size).toBeGreaterThan(0);

      const local = [];
      for (const name of ['demo-quick', 'demo-slow'])
        local.push(
          await ChatModel.load(new FsModelFolder(`public/models/${name}`), {
            ep: 'wasm',
            adapter: nodeRuntimeAdapter(),
          }),
        );
      const expected = await evaluate(
        local.map((m) => ({ model: completionModel(m) })),
        parseProblemSet(SET, 'arith-heldout'),
        { limit: 3, maxNewTokens: 24 },
      );
      for (const m of local) await m.release();
      expect(run.models.map((m) => m.responses)).toEqual(expected.models.map((m) => m.responses));
      expect(run.models.map((m) => m.metrics)).toEqual(expected.models.map((m) => m.metrics));
    },
  );

  it('cancels through an AbortSignal: the call rejects with an AbortError', { timeout: 120_000 }, async () => {
    const ac = new AbortController();
    const err = await client
      .evaluate(
        { models: [{ name: 'demo-slow' }], setText: SET, setName: 'arith-heldout', limit: 4, maxNewTokens: 200 },
        { signal: ac.signal, onText: () => ac.abort() },
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({
      name: 'AbortError',
      code: 'aborted',
      message: expect.stringMatching(/^(generation|evaluation) cancelled$/),
    });
    // The worker is free again.
    const again = await client.evaluate({
      models: [{ name: 'demo-quick' }],
      setText: SET,
      setName: 'arith-heldout',
      limit: 1,
      maxNewTokens: 8,
    });
    expect(again.models[0]!.responses).toHaveLength(1);
  });

  it('lab errors cross the boundary with their class name, code and file', async () => {
    const bad = await client
      .evaluate({ models: [{ name: 'demo-quick' }], setText: 'not json\n', setName: 'broken.jsonl', maxNewTokens: 8 })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(LabError);
    expect(bad).toMatchObject({ name: 'ProblemSetError', code: 'empty', file: 'broken.jsonl' });
    expect(bad.message).toMatch(/broken\.jsonl: no usable problems/);

    const files = folderBlobs('public/models/demo-quick');
    files.delete('tokenizer.json');
    const missing = await client.load('no-tokenizer', files, 'wasm').catch((e) => e);
    expect(missing).toBeInstanceOf(LabError);
    expect(missing).toMatchObject({ name: 'InferError', code: 'missing-file', file: 'no-tokenizer/tokenizer.json' });
  });

  it('calibrates a model for AIM in the worker', { timeout: 120_000 }, async () => {
    const done: number[] = [];
    const stats = await client.calibrate(
      'demo-quick',
      folderBlobs('public/models/demo-quick'),
      SET,
      'arith-heldout',
      2,
      (d) => void done.push(d),
    );
    expect(stats.calibration).toMatchObject({ set: 'arith-heldout', samples: 2 });
    expect(Object.keys(stats.channels).length).toBeGreaterThan(0);
    await expect.poll(() => done).toEqual([2]); // both samples in one batch (the plan's batch, as the CLI's auto)
  });

  it('evaluates in q4 weights and reports the format and plan', { timeout: 120_000 }, async () => {
    const files = folderBlobs('public/models/demo-quick');
    await client.load('quick-q4', files, 'wasm', { weights: 'q4', tokenBudget: 64 });
    expect(await client.loadedFormat('quick-q4')).toMatchObject({
      format: 'q4',
      blockSize: 32,
      summary: expect.stringMatching(/^plan: q4 \(blocks of 32\) on wasm: .*fits/),
    });
    const run = await client.evaluate({
      models: [{ name: 'quick-q4' }],
      setText: SET,
      setName: 'arith-heldout',
      limit: 2,
      maxNewTokens: 16,
    });
    expect(run.models[0]!.responses).toHaveLength(2);
    expect(run.models[0]!.responses.every((r) => r.tokens > 0)).toBe(true);
    await client.unload('quick-q4');
  });

  it('plans every format for the selector; a model over the heap is refused across the boundary', async () => {
    const files = folderBlobs('public/models/demo-quick');
    const heap = WASM_OVERHEAD_BYTES + 10e6;
    const plans = await client.planFormats(
      new Map([
        ['demo-quick', files],
        ['demo-slow', folderBlobs('public/models/demo-slow')],
      ]),
      'wasm',
      { tokenBudget: 256, wasmHeapBytes: heap },
    );
    expect(plans).toMatchObject({ target: 'wasm' });
    expect(plans!.plans.map((p) => [p.format, p.tokenBudget])).toEqual([
      ['f32', 256],
      ['f16', 256],
      ['q4', 256],
    ]);
    const [f32, f16, q4] = plans!.plans;
    expect(f32!.components.weights.bytes).toBeGreaterThan(f16!.components.weights.bytes);
    expect(f16!.components.weights.bytes).toBeGreaterThan(q4!.components.weights.bytes);
    expect(f32).toMatchObject({ fits: false, advice: expect.stringMatching(/fits with up to/) });
    expect(q4).toMatchObject({ fits: true, advice: undefined });

    const refused = await client
      .load('too-big', files, 'wasm', { tokenBudget: 256, wasmHeapBytes: heap })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(LabError);
    expect(refused).toMatchObject({
      name: 'InferError',
      code: 'does-not-fit',
      message: f32!.advice!.replace(plans!.model, 'too-big'),
    });
    expect(await client.loadedFormat('too-big')).toBeUndefined();
  });
});
