/**
 * Generation through the whole engine on the demo model (wasm EP): streaming, stop strings,
 * EOS, sampling with a seed, cancellation, timings; and the tokenizer's checks.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { ChatModel } from '../../src/infer/engine';
import { AbortError } from '../../src/core/errors';
import { InferError } from '../../src/infer/errors';
import { generate } from '../../src/infer/generate';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { argmax, sampleToken, seededRandom } from '../../src/infer/sampling';
import { ChatTokenizer } from '../../src/infer/tokenizer';
import { FsModelFolder } from '../../src/node/fs-folder';
import { TINY, tinyFiles } from './fixtures';

const DEMO = 'public/models/demo-slow';
const QUESTION = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';
let model: ChatModel;
beforeAll(async () => {
  model = await ChatModel.load(new FsModelFolder(DEMO), { ep: 'wasm', adapter: nodeRuntimeAdapter() });
});
afterAll(async () => model?.release());

describe('generation', () => {
  it('streams text whose concatenation is the answer, and reports timings', async () => {
    const pieces: string[] = [];
    const r = await model.ask(QUESTION, { maxNewTokens: 24, onToken: (t) => pieces.push(t.text) });
    expect(r.ids.length).toBeGreaterThan(0);
    expect(pieces.join('')).toBe(r.text);
    expect(r.text).toBe(model.tokenizer.decode(r.ids));
    const t = r.timings;
    expect(t.promptTokens).toBe(r.promptIds.length);
    expect(t.newTokens).toBe(r.ids.length);
    for (const v of [t.prefillMs, t.prefillTokPerS, t.timeToFirstTokenMs, t.totalMs]) expect(v).toBeGreaterThan(0);
    expect(t.timeToFirstTokenMs).toBeGreaterThanOrEqual(t.prefillMs);
    if (r.ids.length > 1) expect(t.decodeTokPerS).toBeGreaterThan(0);
  });

  it('stops on a stop string and cuts the text before it', async () => {
    const free = await model.ask(QUESTION, { maxNewTokens: 30 });
    const cut = Math.floor(free.text.length / 2);
    const stop = free.text.slice(cut, cut + 3);
    const expected = free.text.slice(0, free.text.indexOf(stop));
    const pieces: string[] = [];
    const r = await model.ask(QUESTION, { maxNewTokens: 30, stopStrings: [stop], onToken: (t) => pieces.push(t.text) });
    expect(r.finishReason).toBe('stop-string');
    expect(r.text).toBe(expected);
    expect(pieces.join('')).toBe(expected);
  });

  it('stops on EOS ids (here: the first greedy token made an EOS id)', async () => {
    const first = (await model.ask(QUESTION, { maxNewTokens: 1 })).ids[0]!;
    const r = await model.ask(QUESTION, { maxNewTokens: 10, eosIds: [first] });
    expect(r.finishReason).toBe('eos');
    expect(r.ids).toEqual([]);
  });

  it('sampling is reproducible from the seed and differs across seeds', async () => {
    const opts = { maxNewTokens: 16, temperature: 1.5, topK: 50, topP: 0.95 };
    const a = await model.ask(QUESTION, { ...opts, seed: 1 });
    const b = await model.ask(QUESTION, { ...opts, seed: 1 });
    const others = await Promise.all([2, 3, 4].map((seed) => model.ask(QUESTION, { ...opts, seed })));
    expect(b.ids).toEqual(a.ids);
    expect(others.some((o) => o.ids.join() !== a.ids.join())).toBe(true);
  });

  it('is cancellable through an AbortSignal', async () => {
    const ac = new AbortController();
    let n = 0;
    const err = await model
      .ask(QUESTION, { maxNewTokens: 50, signal: ac.signal, onToken: () => ++n === 3 && ac.abort() })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.message).toBe('generation cancelled');
    expect(n).toBe(3);
  });

  it('max_new_tokens bounds the answer', async () => {
    const r = await generate(model.lm, model.tokenizer.encode('#1'), { maxNewTokens: 5 });
    expect(r.ids.length).toBeLessThanOrEqual(5);
  });
});

describe('sampling', () => {
  const logits = Float32Array.from([0.1, 2.0, -1.0, 1.9, 0.5]);
  it('greedy is argmax; top-k 1 and a tiny top-p are greedy too', () => {
    const rnd = seededRandom(7);
    expect(sampleToken(logits, {}, rnd)).toBe(1);
    expect(sampleToken(logits, { temperature: 1, topK: 1 }, rnd)).toBe(1);
    expect(sampleToken(logits, { temperature: 1, topP: 1e-6 }, rnd)).toBe(1);
    expect(argmax(logits)).toBe(1);
  });
  it('follows softmax(logits / T) within top-k', () => {
    const rnd = seededRandom(3);
    const counts = new Array(5).fill(0);
    for (let i = 0; i < 20000; i++) counts[sampleToken(logits, { temperature: 1, topK: 2 }, rnd)]++;
    expect(counts[0] + counts[2] + counts[4]).toBe(0);
    const p1 = Math.exp(2.0) / (Math.exp(2.0) + Math.exp(1.9));
    expect(Math.abs(counts[1] / 20000 - p1)).toBeLessThan(0.02);
  });
});

describe('tokenizer', () => {
  it('renders the chat template and encodes to the ids the demo tokenizer gives', () => {
    const text = model.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }]);
    expect(text).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    expect(model.tokenizer.eosIds).toContain(model.tokenizer.encode('<|im_end|>')[0]);
  });

  it('refuses a tokenizer whose ids do not fit the model vocabulary', async () => {
    // A tiny 40-token model with the demo family's 582-token tokenizer.
    const files = tinyFiles(TINY);
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      files.set(f, new Uint8Array(readFileSync(`${DEMO}/${f}`)));
    const err = await ChatModel.load(new MapModelFolder('mismatch', files), {
      ep: 'wasm',
      adapter: nodeRuntimeAdapter(),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(InferError);
    expect(err.code).toBe('tokenizer-mismatch');
    expect(err.message).toMatch(/has id 581 but config.json's vocab_size is 40/);
  });

  it('names a missing tokenizer.json', async () => {
    const err = await ChatTokenizer.load(new MapModelFolder('none', tinyFiles(TINY)), { vocab_size: 40 }).catch(
      (e) => e,
    );
    expect(err.message).toMatch(/none\/tokenizer.json: missing/);
    expect(err).toMatchObject({ name: 'InferError', code: 'missing-file', file: 'none/tokenizer.json' });
  });
});

describe('sampling on a large vocabulary', () => {
  // Reference: the definition, by sorting every token.
  function naive(logits: Float32Array, o: { temperature: number; topK?: number; topP?: number }, u: number): number {
    let order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
    if (o.topK) order = order.slice(0, o.topK);
    const max = logits[order[0]!]!;
    let w = order.map((i) => Math.exp((logits[i]! - max) / o.temperature));
    let total = w.reduce((a, b) => a + b, 0);
    if (o.topP !== undefined && o.topP < 1) {
      let cum = 0;
      let m = 0;
      while (m < order.length && cum < o.topP * total) cum += w[m++]!;
      order = order.slice(0, Math.max(1, m));
      w = w.slice(0, order.length);
      total = w.reduce((a, b) => a + b, 0);
    }
    return pick(order, w, total, u);
  }
  const pick = (order: number[], w: number[], total: number, u: number) => {
    let r = u * total;
    for (let j = 0; j < order.length; j++) if ((r -= w[j]!) < 0) return order[j]!;
    return order[order.length - 1]!;
  };

  it('top-k / top-p keep exactly the candidates the definition keeps (151,936 logits)', () => {
    const V = 151936;
    const rnd = seededRandom(9);
    const logits = Float32Array.from({ length: V }, () => (rnd() - 0.5) * 12);
    for (const o of [
      { temperature: 0.7, topK: 40 },
      { temperature: 1, topP: 0.9 },
      { temperature: 0.8, topK: 200, topP: 0.5 },
    ]) {
      // Candidate sets agree when both sample with u → 0 and u → 1 (first and last candidate).
      for (const u of [0, 0.999999])
        expect(
          sampleToken(logits, o, () => u),
          JSON.stringify(o),
        ).toBe(naive(logits, o, u));
    }
  });
});
