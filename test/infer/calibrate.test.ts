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
});
