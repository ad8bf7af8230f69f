/** One fuzzed input format: how its cases are generated and how one case is run against the contract. */
import type fc from 'fast-check';
import type { Outcome } from './contract';

export interface FuzzTarget<I> {
  /** Stable name: corpus files and seeds refer to it. */
  readonly name: string;
  /** The input format it covers, for the README's per-format figures. */
  readonly format: string;
  /** Cases in the test command's fixed-seed slice. */
  readonly sliceRuns: number;
  /** Inputs are plain JSON data, so that a failing one can be saved and replayed. */
  readonly arbitrary: fc.Arbitrary<I>;
  /** Runs one case; resolves with its outcome or rejects with a ContractViolation. */
  run(input: I): Promise<Outcome>;
}
