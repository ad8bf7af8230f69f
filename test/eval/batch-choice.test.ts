/**
 * The Compare step's Batch (src/ui/state/batch-choice.ts) on the real memory plan: "auto" is the
 * plan's largest fitting batch up to the same cap as `merge-lab eval --batch auto`, shown as
 * "auto (B = N)", and a typed batch the plan cannot fit is refused, naming the batch that fits.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BATCH as CLI_AUTO_BATCH } from '../../src/cli/eval-command';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { fittingBatch, planModelOf } from '../../src/infer/load-plan';
import { planInferenceMemory } from '../../src/infer/memory-plan';
import { specOf } from '../../src/infer/model';
import { FsModelFolder } from '../../src/node/fs-folder';
import { MAX_AUTO_BATCH } from '../../src/infer/batch-plan';
import { autoBatch, autoLabel, batchPlansOf, batchProblem, batchRefusal } from '../../src/ui/state/batch-choice';
import type { FormatPlans } from '../../src/workers/eval-client';

const DEMO = 'public/models/demo-slow';

describe('Batch auto and its refusal', () => {
  it('auto takes the plan largest batch, with the CLI cap; a typed batch past it is refused naming it', async () => {
    expect(MAX_AUTO_BATCH).toBe(CLI_AUTO_BATCH);
    const spec = specOf(await Checkpoint.open(new FsModelFolder(DEMO), { requireConfig: true }));
    // A wasm heap that holds the weights and only a few sequences' KV cache and activations.
    const tight = { ep: 'wasm' as const, weights: 'f32' as const, tokenBudget: 4096, wasmHeapBytes: 500 * 2 ** 20 };
    const largest = await fittingBatch(spec, tight, MAX_AUTO_BATCH);
    expect(largest).toBeGreaterThan(1);
    expect(largest).toBeLessThan(MAX_AUTO_BATCH);
    // The number is the plan's: that batch fits, one more does not.
    const req = {
      model: planModelOf(spec),
      weights: 'f32' as const,
      tokenBudget: 4096,
      target: { kind: 'wasm' as const, heapBytes: 500 * 2 ** 20 },
    };
    expect(planInferenceMemory({ ...req, batch: largest }).fits).toBe(true);
    expect(planInferenceMemory({ ...req, batch: largest + 1 }).fits).toBe(false);

    const cap = MAX_AUTO_BATCH;
    const plan = { largest, cap, fits: true };
    expect(autoBatch(plan)).toBe(largest);
    expect(autoLabel(plan)).toBe(`auto (B = ${largest})`);
    expect(batchRefusal(largest, plan)).toBeUndefined();
    expect(batchRefusal(largest + 1, { largest, cap, fits: false })).toBe(
      `Batch ${largest + 1} does not fit the memory plan: at most ${largest} fit (auto takes ${largest})`,
    );
    // Plenty of room: auto takes the cap, and a typed batch past the cap that fits is not refused.
    const roomy = await fittingBatch(spec, { ep: 'wasm', weights: 'f32', tokenBudget: 512 }, MAX_AUTO_BATCH);
    expect(roomy).toBe(MAX_AUTO_BATCH);
    expect(autoLabel({ largest: roomy, cap, fits: true })).toBe('auto (B = 32)');
    expect(batchRefusal(64, { largest: roomy, cap, fits: true })).toBeUndefined();
    expect(batchRefusal(100_000, { largest: roomy, cap, fits: false })).toBe(
      'Batch 100000 does not fit the memory plan: a batch of 32 fits (auto takes 32)',
    );
  });

  it('leaves the refusal to the format when not even one sequence fits, and waits for the plan', () => {
    expect(autoLabel(undefined)).toBe('auto (planning…)');
    expect(autoBatch(undefined)).toBeUndefined();
    expect(autoBatch({ largest: 0, cap: 32, fits: false })).toBe(1);
    expect(batchRefusal(8, { largest: 0, cap: 32, fits: false })).toBeUndefined();
    expect(batchRefusal(8, undefined)).toBeUndefined();
    expect(batchRefusal(1, { largest: 4, cap: 32, fits: false })).toBeUndefined();
    for (const bad of [0, -1, 2.5, Number.NaN, undefined])
      expect(batchProblem(bad)).toBe('Batch must be a whole number ≥ 1');
    expect(batchProblem(3)).toBeUndefined();
  });

  it('reads each format plan and largest batch from the worker format plans', () => {
    const plans = {
      model: 'm',
      target: 'wasm',
      note: undefined,
      plans: [
        { format: 'f32', fits: false },
        { format: 'f16', fits: true },
        { format: 'q4', fits: true },
      ],
      batches: [3, 7, 32],
      maxBatch: 32,
    } as unknown as FormatPlans;
    expect(batchPlansOf(plans)).toEqual({
      f32: { largest: 3, cap: 32, fits: false },
      f16: { largest: 7, cap: 32, fits: true },
      q4: { largest: 32, cap: 32, fits: true },
    });
    expect(batchPlansOf(undefined)).toEqual({});
  });
});
