/**
 * issue 19: ram and ramplus_tl against mergekit's formulas worked out in f64
 * (test/helpers/ram-reference.ts): elements moved by none, one or several models, ε, r, α; f32 and
 * bf16; whole and chunked.
 */
import { describe, expect, it } from 'vitest';
import { RAM_CASES, ramRef, runRam } from '../helpers/ram-reference';

describe('ram and ramplus_tl on the CPU reference', () => {
  for (const c of RAM_CASES)
    it(`${c.method} ${c.dtype} ${JSON.stringify(c.params)}`, async () => {
      const want = ramRef(c);
      for (const r of [await runRam(c), await runRam(c, { chunkElements: 7 })])
        (await r.tensor('w')).forEach((v, i) =>
          expect(Math.abs(v - want[i]!), `[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!))),
        );
    });

  it('ramplus_tl boosts the lone contributions: it differs from ram exactly there', async () => {
    const ram = ramRef({ ...RAM_CASES[2]!, method: 'ram' });
    const plus = ramRef(RAM_CASES[2]!);
    expect(plus.some((v, i) => Math.abs(v - ram[i]!) > 1e-4)).toBe(true);
  });
});
