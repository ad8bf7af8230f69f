/**
 * The lab-kept KV cache of the batched graph on wasm (src/infer/batch-kv.ts): with GroupQueryAttention
 * the graph returns only each call's new K/V rows and the lab appends them, where otherwise ORT returns
 * the whole grown cache (`present`). Both forms run side by side on the demo model, f32 and q4 (an f16
 * cache): every step's logits are bitwise the same, and so is every valid position of every row of the
 * cache (the keys the graph rotates for the lab are the ones GroupQueryAttention keeps), through
 * prefills of different lengths, a regroup, and decode steps past the cache's room (a reallocation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KV_ROOM, kvCapacity } from '../../src/infer/batch-kv';
import { type BatchCache, BatchLM } from '../../src/infer/batch-model';
import { newKey, newValue } from '../../src/infer/graph-batch';
import { pastKey, presentKey } from '../../src/infer/graph';
import type { WeightFormat } from '../../src/infer/weight-format';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';

const DEMO = 'public/models/demo-slow';
const PROMPTS = [
  [580, 537, 198, 480, 569, 393, 566, 13, 541, 16, 561, 551, 388, 13, 562, 573, 566, 567, 553, 570, 555, 30, 581, 198],
  [580, 537, 198, 480, 569, 368, 549, 13, 541, 16, 561, 558, 367, 13, 541, 17, 561, 550, 425, 13, 541, 18],
  [580, 537, 198, 480, 569, 393, 566, 13],
];

/** Row `row` of a cache as its valid positions, [kvH][length·D] of raw values. */
function rowValues(cache: BatchCache, name: string, row: number): number[][] {
  const t = cache.tensors.get(name)!;
  const [, kvH, P, D] = t.dims as number[];
  const data = t.data as Float32Array | Uint16Array;
  const n = cache.lengths[row]! * D!;
  return Array.from({ length: kvH! }, (_, h) =>
    Array.from(data.subarray((row * kvH! + h) * P! * D!, undefined).slice(0, n)),
  );
}

describe.each(['f32', 'q4'] as WeightFormat[])('the lab-kept KV cache (gqa, %s weights)', (weights) => {
  let appending: BatchLM;
  let present: BatchLM;
  beforeAll(async () => {
    const opts = { ep: 'wasm' as const, adapter: nodeRuntimeAdapter(), attention: 'gqa' as const, weights };
    appending = await BatchLM.load(new FsModelFolder(DEMO), { ...opts, newKvOutputs: true });
    present = await BatchLM.load(new FsModelFolder(DEMO), { ...opts, newKvOutputs: false });
  }, 300_000);
  afterAll(async () => {
    await appending?.release();
    await present?.release();
  });

  it('the graphs differ only in what they return: new rows, or the whole present cache', () => {
    expect(appending.graph.outputNames).toContain(newKey(0));
    expect(appending.graph.outputNames).toContain(newValue(0));
    expect(appending.graph.outputNames).not.toContain(presentKey(0));
    expect(present.graph.outputNames).toContain(presentKey(0));
    expect(present.graph.outputNames).not.toContain(newKey(0));
  });

  it('gives bitwise the logits and cache rows of the present form, step after step', async () => {
    const names = [...appending.emptyCache().tensors.keys()];
    const prefill = async (lm: BatchLM) => {
      const caches: BatchCache[] = [];
      const logits: Float32Array[] = [];
      for (const p of PROMPTS) {
        const step = await lm.forward([p], lm.emptyCache(1));
        caches.push(step.cache);
        logits.push(step.logits);
      }
      return { cache: await lm.regroup(caches.map((cache) => ({ cache, row: 0 }))), logits };
    };
    const a = await prefill(appending);
    const b = await prefill(present);
    expect(a.logits).toEqual(b.logits);
    // The appending cache has room to grow; the present form's is exactly as long as the longest row.
    expect(a.cache.tensors.get(pastKey(0))!.dims[2]).toBe(kvCapacity(PROMPTS[0]!.length + 1));
    expect(b.cache.tensors.get(pastKey(0))!.dims[2]).toBe(PROMPTS[0]!.length);
    let [ca, cb] = [a.cache, b.cache];
    let next = PROMPTS.map(() => [7]);
    for (let step = 0; step < KV_ROOM + 4; step++) {
      const sa = await appending.forward(next, ca);
      const sb = await present.forward(next, cb);
      expect(sa.logits).toEqual(sb.logits);
      expect(sa.cache.lengths).toEqual(sb.cache.lengths);
      for (const name of names)
        for (let row = 0; row < PROMPTS.length; row++)
          expect(rowValues(sa.cache, name, row)).toEqual(rowValues(sb.cache, name, row));
      [ca, cb] = [sa.cache, sb.cache];
      // Each row's greedy token, so that the rows go on as generation would.
      next = PROMPTS.map((_, row) => {
        const l = sa.logits.subarray(row * appending.spec.vocab, (row + 1) * appending.spec.vocab);
        return [l.indexOf(Math.max(...l))];
      });
    }
    // The longest row outgrew the first room: the arrays were reallocated with more.
    expect(ca.tensors.get(pastKey(0))!.dims[2]).toBeGreaterThan(kvCapacity(PROMPTS[0]!.length + 1));
  });

  it('an older cache still reads its own positions after a newer step appended to the same arrays', async () => {
    const first = await appending.forward([PROMPTS[2]!], appending.emptyCache(1));
    const before = rowValues(first.cache, pastKey(0), 0);
    const grown = await appending.regroup([{ cache: first.cache, row: 0 }]);
    const stepped = await appending.forward([[7]], grown);
    expect(stepped.cache.lengths).toEqual([PROMPTS[2]!.length + 1]);
    expect(rowValues(first.cache, pastKey(0), 0)).toEqual(before);
    expect(rowValues(grown, pastKey(0), 0)).toEqual(before);
  });
});

describe('which EP keeps the cache in the lab', () => {
  it('auto that settles on wasm (no adapter, or only a CPU one) returns new rows; asked off, the present cache', async () => {
    const opts = { ep: 'auto' as const, adapter: nodeRuntimeAdapter(), attention: 'gqa' as const };
    const lm = await BatchLM.load(new FsModelFolder(DEMO), opts);
    const off = await BatchLM.load(new FsModelFolder(DEMO), { ...opts, newKvOutputs: false });
    try {
      expect(lm.ep.ep).toBe('wasm');
      expect(lm.graph.outputNames).toContain(newKey(0));
      expect(off.graph.outputNames).toContain(presentKey(0));
    } finally {
      await lm.release();
      await off.release();
    }
  }, 300_000);
});
