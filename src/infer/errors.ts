/** Errors of the inference engine. Each names what is wrong and, where it helps, what would work. */

export type InferErrorCode =
  | 'unsupported-architecture'
  | 'unsupported-feature'
  | 'missing-weight'
  | 'weight-shape'
  | 'tokenizer-mismatch'
  | 'missing-file'
  | 'context-overflow'
  | 'session'
  | 'cancelled';

export class InferError extends Error {
  override readonly name = 'InferError';
  constructor(
    readonly code: InferErrorCode,
    detail: string,
  ) {
    super(detail);
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InferError('cancelled', 'generation cancelled');
}
