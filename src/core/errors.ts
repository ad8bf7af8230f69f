/**
 * Typed errors. Every error names the file (and the tensor or field where one applies),
 * so that a user can tell at a glance which input is wrong.
 */

export type SafetensorsErrorCode =
  | 'header-too-large'
  | 'header-beyond-file'
  | 'header-not-json'
  | 'header-not-object'
  | 'unsupported-dtype'
  | 'byte-length-mismatch'
  | 'offsets-out-of-range'
  | 'offsets-overlap'
  | 'truncated'
  | 'missing-tensor';

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    readonly code: SafetensorsErrorCode,
    readonly file: string,
    detail: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor ? ` [${tensor}]` : ''}: ${detail}`);
  }
}

export type CheckpointErrorCode =
  | 'missing-file'
  | 'missing-shard'
  | 'bad-index'
  | 'bad-config'
  | 'duplicate-tensor';

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly code: CheckpointErrorCode,
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export class RecipeError extends Error {
  override readonly name = 'RecipeError';
  /** `field` is a dotted path such as `models[1].parameters.density`. */
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`recipe field '${field}': ${detail}`);
  }
}

export type MergeErrorCode =
  | 'shape-mismatch'
  | 'missing-tensor'
  | 'vocab-mismatch'
  | 'dtype-mismatch'
  | 'unknown-model'
  | 'cancelled'
  | 'backend';

export class MergeError extends Error {
  override readonly name = 'MergeError';
  constructor(
    readonly code: MergeErrorCode,
    detail: string,
    readonly tensor?: string,
  ) {
    super(tensor ? `tensor '${tensor}': ${detail}` : detail);
  }
}

/** Throws a MergeError('cancelled') when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MergeError('cancelled', 'merge cancelled');
}
