/**
 * Batched generation on the demo model (wasm EP in Node): continuous batching at B = 1, 3 and 8
 * gives, token for token, the greedy answers of one-at-a-time generate() for 24 problems of mixed
 * levels (so lengths differ and sequences leave and join at different steps), with both attention
 * forms and with f32 and q4 weights; sampled answers depend on the seed and the problem only.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError } from '../../src/core/errors';
import { ChatModel } from '../../src/infer/engine';
import { InferError } from '../../src/infer/errors';
import { type BatchGenerateOptions, batchGenerate } from '../../src/infer/batch-generate';
import { BatchLM } from '../../src/infer/batch-model';
import { type GenerateResult, generate } from '../../src/infer/generate';
import type { AttentionImpl } from '../../src/infer/graph';
import type { WeightFormat } from '../../src/infer/weight-format';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';

const DEMO = 'public/models/demo-slow';
const MAX_NEW = 200;
const questions = readFileSync('public/data/arith-heldout.jsonl', 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { question: string; level: number });
/** 24 problems spread over the set (sorted by level: every level appears). */
const PROBLEMS = Array.from({ length: 24 }, (_, i) => questions[Math.floor((i * questions.length) / 24)]!);

interface Pair {
  chat: ChatModel;
  batch: BatchLM;
  prompts: number[][];
  reference: GenerateResult[];
}

async function loadPair(attention: AttentionImpl, weights: WeightFormat): Promise<Pair> {
  const opts = { ep: 'wasm' as const, adapter: nodeRuntimeAdapter(), attention, weights };
  const chat = await ChatModel.load(new FsModelFolder(DEMO), opts);
  const batch = await BatchLM.load(new FsModelFolder(DEMO), opts);
  const prompts = PROBLEMS.map((p) => chat.tokenizer.encode(chat.promptText(p.question)));
  const reference: GenerateResult[] = [];
  for (const ids of prompts) reference.push(await generate(chat.lm, ids, generateOpts(chat)));
  return { chat, batch, prompts, reference };
}

const generateOpts = (chat: ChatModel) => ({
  maxNewTokens: MAX_NEW,
  eosIds: chat.tokenizer.eosIds,
  decode: (ids: readonly number[]) => chat.tokenizer.decode(ids),
});

async function expectSameAsReference(pair: Pair, batchSize: number, extra: BatchGenerateOptions = {}) {
  const streamed = pair.prompts.map(() => [] as string[]);
  const run = await batchGenerate(pair.batch, pair.prompts, {
    ...generateOpts(pair.chat),
    batchSize,
    onToken: (i, t) => streamed[i]!.push(t.text),
    ...extra,
  });
  run.results.forEach((r, i) => {
    const ref = pair.reference[i]!;
    expect({ i, ids: r.ids, finish: r.finishReason }).toEqual({ i, ids: ref.ids, finish: ref.finishReason });
    expect(r.text).toBe(ref.text);
    expect(streamed[i]!.join('')).toBe(r.text);
  });
  return run;
}

describe.each([
  ['gqa', 'f32'],
  ['onnx', 'f32'],
  ['gqa', 'q4'], // q4 weights default to an f16 KV cache
  ['onnx', 'q4'],
] as [AttentionImpl, WeightFormat][])('batched greedy generation (%s attention, %s weights)', (attention, weights) => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await loadPair(attention, weights);
  }, 600_000);
  afterAll(async () => {
    await pair?.chat.release();
    await pair?.batch.release();
  });

  it('the batched graph has the attention form and the KV cache dtype of the format (f16 with q4)', () => {
    expect(pair.batch.graph.attention).toBe(attention);
    expect(pair.batch.graph.kvCache).toBe(weights === 'q4' ? 'f16' : 'f32');
    expect(pair.batch.graph.kvCache).toBe(pair.chat.lm.graph.kvCache);
  });

  it('the 24 problems have answers of different lengths, some of them long', () => {
    const lengths = pair.reference.map((r) => r.ids.length);
    expect(new Set(lengths).size).toBeGreaterThanOrEqual(5);
    expect(Math.min(...lengths)).toBeLessThan(100);
    expect(Math.max(...lengths)).toBeGreaterThan(150);
  });

  it.each([1, 3, 8])(
    'batch %i: the same token ids, text and finish as one at a time',
    async (b) => {
      const run = await expectSameAsReference(pair, b);
      const t = run.timings;
      expect(t.newTokens).toBe(pair.reference.reduce((n, r) => n + r.ids.length, 0));
      expect(t.tokPerS).toBeGreaterThan(0);
      // Continuous batching: the steps are at least the longest answer and at most the one-at-a-time count.
      expect(t.decodeSteps).toBeGreaterThanOrEqual(Math.max(...pair.reference.map((r) => r.ids.length)) - 1);
      if (b > 1) expect(t.decodeSteps).toBeLessThan(t.newTokens - pair.prompts.length);
    },
    300_000,
  ); // q4 at batch 1 (MatMulNBits one row at a time) takes over a minute on a loaded 2-core machine

  it('batch 8 with the joining prompts prefilled together (padded): the same answers', async () => {
    await expectSameAsReference(pair, 8, { prefill: 'together' });
  });
});

describe('batch composition (gqa, f32)', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await loadPair('gqa', 'f32');
  }, 600_000);
  afterAll(async () => {
    await pair?.chat.release();
    await pair?.batch.release();
  });

  it('a batch larger than the number of problems', async () => {
    const few = { ...pair, prompts: pair.prompts.slice(0, 5), reference: pair.reference.slice(0, 5) };
    const run = await expectSameAsReference(few, 16);
    expect(run.results).toHaveLength(5);
  });

  it('the problems in another order: each answer is the same', async () => {
    const order = pair.prompts.map((_, i) => i).reverse();
    const shuffled = {
      ...pair,
      prompts: order.map((i) => pair.prompts[i]!),
      reference: order.map((i) => pair.reference[i]!),
    };
    await expectSameAsReference(shuffled, 5);
  });

  it('one sequence stops at once while another runs to the token limit', async () => {
    // The prompt followed by the model's own whole answer: its next token is EOS.
    const done = [...pair.prompts[0]!, ...pair.reference[0]!.ids];
    const long = pair.prompts.findIndex((_, i) => pair.reference[i]!.ids.length > 60);
    const prompts = [done, pair.prompts[long]!, done];
    const opts = { ...generateOpts(pair.chat), maxNewTokens: 60 };
    const reference = [];
    for (const ids of prompts) reference.push(await generate(pair.chat.lm, ids, opts));
    expect(reference.map((r) => [r.finishReason, r.ids.length])).toEqual([
      ['eos', 0],
      ['max-new-tokens', 60],
      ['eos', 0],
    ]);
    const run = await batchGenerate(pair.batch, prompts, { ...opts, batchSize: 2 });
    expect(run.results.map((r) => r.ids)).toEqual(reference.map((r) => r.ids));
    expect(run.results.map((r) => r.finishReason)).toEqual(['eos', 'max-new-tokens', 'eos']);
  });

  it('sampled answers depend on the seed and the problem, not on the batch', async () => {
    const sampling = { temperature: 1.2, topK: 40, topP: 0.95, seed: 7, maxNewTokens: 40 };
    const prompts = pair.prompts.slice(0, 6);
    // One at a time, problem i's stream is seed + i.
    const reference = [];
    for (const [i, ids] of prompts.entries())
      reference.push((await generate(pair.chat.lm, ids, { ...sampling, seed: 7 + i })).ids);
    for (const b of [1, 4]) {
      const run = await batchGenerate(pair.batch, prompts, { ...sampling, batchSize: b });
      expect(run.results.map((r) => r.ids)).toEqual(reference);
    }
  });

  it('Cancel stops the whole batch', async () => {
    const ac = new AbortController();
    let n = 0;
    const err = await batchGenerate(pair.batch, pair.prompts, {
      ...generateOpts(pair.chat),
      batchSize: 4,
      signal: ac.signal,
      onToken: () => ++n === 10 && ac.abort(),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(n).toBeLessThanOrEqual(10 + 3); // the step in flight finishes its other rows
  });

  it('refuses a batch size that is not a positive integer', async () => {
    for (const batchSize of [0, 1.5, -2]) {
      const err = await batchGenerate(pair.batch, pair.prompts, { batchSize }).catch((e) => e);
      expect(err).toBeInstanceOf(InferError);
      expect(err.code).toBe('bad-options');
    }
  });
});
