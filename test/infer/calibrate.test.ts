/** AIM calibration: the in-graph activation statistics equal a plain-TS recomputation. */
import { describe, expect, it } from 'vitest';
import { parseActivationStats } from '../../src/core/merge/activation-stats';
import { calibrate, calibrateIds, calibrationMessages } from '../../src/infer/calibrate';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { parseProblemSet } from '../../src/core/eval/problem-set';
import { FsModelFolder } from '../../src/node/fs-folder';
import { readFileSync } from 'node:fs';
import { TINY, tinyCkpt } from './fixtures';
import { referenceLogits } from './reference';

describe('AIM calibration', () => {
  it('mean |x_j| per input channel of every linear layer, reduced in the graph, equals the reference', async () => {
    const ckpt = await tinyCkpt({ ...TINY, tied: false });
    const seqs = [
      [1, 5, 9, 2, 30],
      [7, 7, 3],
    ];
    const stats = await calibrateIds(ckpt, seqs, 'toy', { ep: 'wasm', adapter: nodeRuntimeAdapter() });
    const sums = new Map<string, Float64Array>();
    for (const ids of seqs)
      await referenceLogits(ckpt, ids, (w, x) => {
        const acc = sums.get(w) ?? new Float64Array(x.length);
        x.forEach((v, j) => (acc[j]! += Math.abs(v)));
        sums.set(w, acc);
      });
    expect(Object.keys(stats.channels).sort()).toEqual([...sums.keys()].sort());
    expect(stats.calibration).toEqual({ set: 'toy', samples: 2, tokens: 8 });
    for (const [w, acc] of sums) {
      const got = stats.channels[w]!;
      expect(got.length).toBe(acc.length);
      acc.forEach((s, j) => expect(Math.abs(got[j]! - s / 8)).toBeLessThanOrEqual(1e-4 * Math.max(1, s / 8)));
    }
    // No statistics for embeddings or the head: AIM leaves them as merged.
    expect(Object.keys(stats.channels).some((k) => /embed|lm_head/.test(k))).toBe(false);
  });

  it('calibrates the demo base on short answers from the built-in set and round-trips as a file', async () => {
    const set = parseProblemSet(readFileSync('public/data/arith-heldout.jsonl', 'utf8'), 'arith-heldout');
    const examples = calibrationMessages(set, 4);
    expect(examples[0]!.answer).toMatch(/^The answer is -?\d+\.$/);
    const folder = new FsModelFolder('public/models/demo-quick');
    const stats = await calibrate(folder, examples, 'arith-heldout', { ep: 'wasm', adapter: nodeRuntimeAdapter() });
    await folder.close();
    expect(Object.keys(stats.channels).length).toBeGreaterThan(0);
    for (const v of Object.values(stats.channels)) expect(v.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
    expect(parseActivationStats(JSON.stringify(stats), 'stats.json')).toEqual(stats);
  });

  it.each(['onnx', 'gqa'] as const)(
    'batched (%s attention): 5 sequences of different lengths at batch 3 give the batch-1 statistics',
    async (attention) => {
      // gqa needs head_dim % 16 == 0: 2 heads of 16.
      const ckpt = await tinyCkpt(
        { ...TINY, hidden: 32, tied: false },
        { num_attention_heads: 2, num_key_value_heads: 1 },
      );
      const seqs = [[1, 5, 9, 2, 30], [7, 7, 3], [4, 8, 15, 16, 23, 36, 2, 1], [12], [3, 3, 9, 27]];
      const opts = { ep: 'wasm' as const, adapter: nodeRuntimeAdapter(), attention };
      const one = await calibrateIds(ckpt, seqs, 'toy', opts);
      const progress: number[] = [];
      const three = await calibrateIds(ckpt, seqs, 'toy', {
        ...opts,
        batchSize: 3,
        onProgress: (d) => progress.push(d),
      });
      expect(progress).toEqual([3, 5]);
      expect(three.calibration).toEqual({ set: 'toy', samples: 5, tokens: 21 });
      expect(Object.keys(three.channels).sort()).toEqual(Object.keys(one.channels).sort());
      for (const [w, ref] of Object.entries(one.channels)) {
        const got = three.channels[w]!;
        // Padding rows masked out: the same sums up to f32 rounding (a padded row would add |x| ≈ O(1)).
        ref.forEach((r, j) => expect(Math.abs(got[j]! - r)).toBeLessThanOrEqual(1e-5 * Math.max(1, r)));
      }
    },
  );

  it('refuses a batch size that is not a positive integer', async () => {
    const ckpt = await tinyCkpt({ ...TINY, tied: false });
    for (const batchSize of [0, 2.5])
      await expect(
        calibrateIds(ckpt, [[1, 2]], 'toy', { ep: 'wasm', adapter: nodeRuntimeAdapter(), batchSize }),
      ).rejects.toMatchObject({
        code: 'bad-options',
        field: 'batchSize',
      });
  });

  it("batchSize 'auto' takes the plan's largest batch, at most the number of examples", async () => {
    const set = parseProblemSet(readFileSync('public/data/arith-heldout.jsonl', 'utf8'), 'arith-heldout');
    const folder = new FsModelFolder('public/models/demo-quick');
    let batch = 0;
    const opts = { ep: 'wasm' as const, adapter: nodeRuntimeAdapter() };
    const auto = await calibrate(folder, calibrationMessages(set, 5), 'arith-heldout', {
      ...opts,
      batchSize: 'auto',
      onBatch: (b) => (batch = b),
    });
    const single = await calibrate(folder, calibrationMessages(set, 5), 'arith-heldout', { ...opts, batchSize: 1 });
    await folder.close();
    expect(batch).toBe(5);
    for (const [w, ref] of Object.entries(single.channels))
      ref.forEach((r, j) => expect(Math.abs(auto.channels[w]![j]! - r)).toBeLessThanOrEqual(1e-5 * Math.max(1, r)));
  });
});
