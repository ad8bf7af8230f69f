/**
 * The fixed-seed slice of the fuzzing campaign (`npm run fuzz` runs the long one): every input
 * format, ≥ 5,000 cases in all, each ending in success or a typed error naming the file, within
 * the time bound and without reading past a file's real size (see contract.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TARGETS } from './targets';

/** The slice's seed; a failure prints the counterexample and fast-check's replay path. */
const SLICE_SEED = 20_261_129;

describe('fuzz slice (fixed seed)', () => {
  it('covers at least 5,000 cases', () => {
    expect(FUZZ_TARGETS.reduce((n, t) => n + t.sliceRuns, 0)).toBeGreaterThanOrEqual(5_000);
  });

  FUZZ_TARGETS.forEach((target, i) => {
    it(`${target.name}: ${target.sliceRuns} cases`, { timeout: 240_000 }, async () => {
      const outcomes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(target.arbitrary, async (input) => {
          const o = await target.run(input);
          const key = o.kind === 'ok' ? 'ok' : o.code;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }),
        { seed: SLICE_SEED + i, numRuns: target.sliceRuns, endOnFailure: true },
      );
      // Both ends of the contract are exercised: some cases succeed and some are refused.
      expect(outcomes.size, JSON.stringify([...outcomes])).toBeGreaterThan(1);
    });
  });
});
