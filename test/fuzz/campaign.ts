/**
 * `npm run fuzz`: the long fuzzing campaign over every input format. Cases are split over the
 * targets in proportion to their share of the test slice; each target's seed is printed so that a
 * run can be repeated (`--seed`). A failing input is shrunk, saved under test/fuzz/corpus/ (replayed
 * by corpus.test.ts from then on) and the campaign exits 1 after finishing the other targets.
 *
 *   npm run fuzz -- [--cases 100000] [--seed N] [--only target-name]
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { ContractViolation } from './contract';
import { saveCorpusEntry } from './corpus';
import { FUZZ_TARGETS } from './targets';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string' }, only: { type: 'string' } },
});
const totalCases = Number(values.cases);
const baseSeed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const targets = FUZZ_TARGETS.filter((t) => !values.only || t.name === values.only);
const sliceTotal = targets.reduce((n, t) => n + t.sliceRuns, 0);

console.log(`fuzz campaign: ${totalCases} cases over ${targets.length} targets, base seed ${baseSeed}`);
let failures = 0;
const started = performance.now();
for (const [i, target] of targets.entries()) {
  const numRuns = Math.ceil((totalCases * target.sliceRuns) / sliceTotal);
  const seed = baseSeed + FUZZ_TARGETS.indexOf(target);
  const outcomes = new Map<string, number>();
  let slowest = 0;
  let slowestInput = '';
  const t0 = performance.now();
  const result = await fc.check(
    fc.asyncProperty(target.arbitrary, async (input) => {
      const s = performance.now();
      const o = await target.run(input);
      const took = performance.now() - s;
      if (took > slowest) [slowest, slowestInput] = [took, JSON.stringify(input).slice(0, 160)];
      const key = o.kind === 'ok' ? 'ok' : o.code;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }),
    { seed, numRuns },
  );
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const ok = outcomes.get('ok') ?? 0;
  const refused = [...outcomes.values()].reduce((a, b) => a + b, 0) - ok;
  console.log(
    `[${i + 1}/${targets.length}] ${target.name} (${target.format}): seed ${seed}, ${result.numRuns} cases, ` +
      `${ok} accepted, ${refused} refused with a typed error, slowest case ${slowest.toFixed(0)} ms, ${secs} s`,
  );
  console.log(`    outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])))}`);
  console.log(`    slowest input: ${slowestInput}`);
  if (result.failed) {
    failures++;
    const error = result.errorInstance;
    const kind = error instanceof ContractViolation ? error.message : `harness error: ${String(error)}`;
    const file = saveCorpusEntry({ target: target.name, seed, failure: kind, input: result.counterexample?.[0] });
    console.log(`    FAILED: ${kind}\n    saved ${file}; replay with the same seed: --seed ${baseSeed}`);
  }
}
const minutes = ((performance.now() - started) / 60_000).toFixed(1);
console.log(
  `${failures ? `${failures} target(s) FAILED` : 'no failures'}: crashes, hangs and over-reads 0 of ${totalCases} unless listed above; ${minutes} min`,
);
process.exit(failures ? 1 : 0);
