/**
 * The f16 KV cache on the wasm EP: past/present tensors really are float16 (in the graph and at
 * run time), the logits over a prompt and decode steps stay within a stated tolerance of the f32
 * cache's on the demo models (GroupQueryAttention) and on a head_dim-8 model (standard ONNX
 * attention), the greedy continuation is the same, and the defaults follow the weight format.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/core/formats/checkpoint';
import { ChatModel } from '../../src/infer/engine';
import { generate } from '../../src/infer/generate';
import { CausalLM, type KvCache, type LoadOptions } from '../../src/infer/model';
import { pastKey, pastValue } from '../../src/infer/graph';
import { DataType, decodeModel } from '../../src/infer/onnx-proto';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { TINY, tinyCkpt } from './fixtures';
import { maxAbsDiff } from './reference';

const adapter = nodeRuntimeAdapter();
const QUESTION = 'Tom has 47 coins. He finds 42 more. How many coins does he have now?';
/** Max |Δlogit| of the f16 cache against the f32 one, over the prompt's last position and every decode step. */
const LOGIT_TOLERANCE = 2e-2;
const STEPS = 16;

const released: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const r of released) await r();
});

async function loadCkpt(ckpt: Checkpoint, opts: LoadOptions): Promise<CausalLM> {
  const lm = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, ...opts });
  released.push(() => lm.release());
  return lm;
}

const argmax = (v: Float32Array) => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);

/**
 * Prefill, a 3-token chunk, then one-token steps, each model fed the same tokens (the f32 cache's
 * greedy ones): the worst |Δlogit| between the two, and the dtype of the f16 model's cache.
 */
async function compareCaches(lm32: CausalLM, lm16: CausalLM, prompt: readonly number[]) {
  let a = await lm32.forward(prompt);
  let b = await lm16.forward(prompt);
  let worst = maxAbsDiff(a.logits, b.logits);
  const V = lm32.spec.vocab;
  const last = (l: Float32Array) => argmax(l.subarray(l.length - V));
  const chunk = [last(a.logits), 5, 9];
  const steps: number[][] = [chunk, ...Array.from({ length: STEPS }, () => [] as number[])];
  for (const [i, given] of steps.entries()) {
    const ids = i === 0 ? given : [last(a.logits)];
    const [ca, cb]: [KvCache, KvCache] = [a.cache, b.cache];
    a = await lm32.forward(ids, ca);
    b = await lm16.forward(ids, cb);
    worst = Math.max(worst, maxAbsDiff(a.logits, b.logits));
  }
  return { worst, cache: b.cache, length: a.cache.length };
}

describe('f16 KV cache (wasm EP)', () => {
  it.each(['demo-quick', 'demo-base'])(
    '%s (GroupQueryAttention): logits within the tolerance of the f32 cache, the same greedy text',
    { timeout: 120_000 },
    async (name) => {
      const folder = new FsModelFolder(`public/models/${name}`);
      released.push(() => folder.close());
      const m32 = await ChatModel.load(folder, { ep: 'wasm', adapter });
      const m16 = await ChatModel.load(folder, { ep: 'wasm', adapter, kvCache: 'f16' });
      released.push(
        () => m32.lm.release(),
        () => m16.lm.release(),
      );
      expect([m32.lm.graph.kvCache, m16.lm.graph.kvCache]).toEqual(['f32', 'f16']);
      expect(m16.lm.graph.attention).toBe('gqa');
      const prompt = m32.tokenizer.encode(m32.promptText(QUESTION));
      const { worst, cache, length } = await compareCaches(m32.lm, m16.lm, prompt);
      console.log(`${name}: f16 KV vs f32 KV over ${length} positions: max |Δlogit| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(LOGIT_TOLERANCE);
      expect(worst).toBeGreaterThan(0); // the cache really is rounded
      const t = cache.tensors.get(pastKey(3))!;
      expect([t.type, t.dims]).toEqual(['float16', [1, 2, length, 32]]);
      expect(cache.tensors.get(pastValue(0))!.type).toBe('float16');

      const [a, b] = [await m32.ask(QUESTION, { maxNewTokens: 24 }), await m16.ask(QUESTION, { maxNewTokens: 24 })];
      expect(b.ids).toEqual(a.ids);
      expect(b.text).toBe(a.text);
    },
  );

  it('head_dim 8 (standard ONNX attention): the same, and the cache is float16', async () => {
    const ckpt = await tinyCkpt({ ...TINY, seed: 31 });
    const lm32 = await loadCkpt(ckpt, {});
    const lm16 = await loadCkpt(ckpt, { kvCache: 'f16' });
    expect(lm16.graph.attention).toBe('onnx');
    const { worst, cache, length } = await compareCaches(lm32, lm16, [3, 17, 0, 39, 8, 8, 21]);
    console.log(
      `tiny (onnx attention): f16 KV vs f32 KV over ${length} positions: max |Δlogit| ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(LOGIT_TOLERANCE);
    expect(cache.tensors.get(pastKey(1))!.type).toBe('float16');
    const [a, b] = [
      await generate(lm32, [3, 17, 0, 39], { maxNewTokens: 12 }),
      await generate(lm16, [3, 17, 0, 39], { maxNewTokens: 12 }),
    ];
    expect(b.ids).toEqual(a.ids);
  });

  it('the graph declares float16 past/present tensors; f32 stays float32', async () => {
    const ckpt = await tinyCkpt({ ...TINY, hidden: 32 });
    for (const [kvCache, type] of [
      ['f16', DataType.FLOAT16],
      ['f32', DataType.FLOAT],
    ] as const) {
      const lm = await loadCkpt(ckpt, { kvCache });
      const g = decodeModel(lm.graph.model).graph;
      const kv = [...g.input, ...g.output].filter((v) => /^(past|present)\./.test(v.name));
      expect(kv).toHaveLength(4 * TINY.layers!);
      for (const v of kv) expect(v.type?.tensorType?.elemType, v.name).toBe(type);
      expect(lm.emptyCache().tensors.get(pastKey(0))!.type).toBe(kvCache === 'f16' ? 'float16' : 'float32');
    }
  });

  it('defaults: f32 weights keep an f32 cache, f16 and q4 weights an f16 one; an explicit choice wins', async () => {
    const ckpt = await tinyCkpt({ ...TINY, hidden: 32, intermediate: 64 });
    const cases: [LoadOptions, string][] = [
      [{}, 'f32'],
      [{ weights: 'f16' }, 'f16'],
      [{ weights: 'q4', blockSize: 32 }, 'f16'],
      [{ weights: 'q4', blockSize: 32, kvCache: 'f32' }, 'f32'],
    ];
    for (const [opts, kv] of cases) {
      const lm = await loadCkpt(ckpt, opts);
      expect(lm.graph.kvCache, JSON.stringify(opts)).toBe(kv);
      expect(lm.plan.plan.kvDtype).toBe(kv);
      const out = await lm.forward([1, 2, 3]);
      expect(out.cache.tensors.get(pastKey(0))!.type).toBe(kv === 'f16' ? 'float16' : 'float32');
      if (kv === 'f16') expect(lm.plan.summary).toMatch(/KV cache [\d.]+ [kM]B in f16 for/);
    }
  });

  it('an unknown kvCache is a bad-options error naming the field', async () => {
    const ckpt = await tinyCkpt(TINY);
    await expect(loadCkpt(ckpt, { kvCache: 'f8' as never })).rejects.toMatchObject({
      code: 'bad-options',
      field: 'kvCache',
    });
  });
});
