/**
 * Errors of the inference engine. Each names what is wrong and, where it helps, what would work;
 * `file` is the model file concerned where there is one. Cancellation is the lab's AbortError.
 */
import { type ErrorLocation, LabError } from '../core/errors';

export type InferErrorCode =
  | 'unsupported-architecture'
  | 'unsupported-feature'
  | 'missing-weight'
  | 'weight-shape'
  | 'weight-format'
  | 'tokenizer-mismatch'
  | 'chat-template'
  | 'missing-file'
  | 'context-overflow'
  | 'does-not-fit'
  | 'bad-options'
  | 'session';

export class InferError extends LabError {
  override readonly name = 'InferError';
  constructor(
    readonly code: InferErrorCode,
    detail: string,
    where: ErrorLocation = {},
  ) {
    super(detail, where);
  }
}
