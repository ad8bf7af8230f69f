/**
 * Every error the lab raises on purpose is a LabError: a stable `code`, a message a user can act
 * on, and the file, tensor or recipe field it concerns where one applies. The CLI and the UI report
 * any LabError the same way (`describeError`); anything else is a bug and keeps its stack.
 * Cancellation is always an AbortError (`isAbortError` also accepts the DOM's own).
 * Errors cross worker boundaries as plain `LabErrorInfo` records and are rebuilt on the other side.
 */

/** Where an error points: the file, the tensor inside it, or a dotted recipe field. */
export interface ErrorLocation {
  readonly file?: string;
  readonly tensor?: string;
  readonly field?: string;
}

export abstract class LabError extends Error {
  abstract readonly code: string;
  readonly file: string | undefined;
  readonly tensor: string | undefined;
  readonly field: string | undefined;

  constructor(message: string, where: ErrorLocation = {}, options?: ErrorOptions) {
    super(message, options);
    this.file = where.file;
    this.tensor = where.tensor;
    this.field = where.field;
  }

  /** A structured-clone-safe record of this error, for postMessage and JSON. */
  toInfo(): LabErrorInfo {
    return {
      lab: true,
      name: this.name,
      code: this.code,
      message: this.message,
      file: this.file,
      tensor: this.tensor,
      field: this.field,
    };
  }
}

/** `file [tensor]: detail`, the form every file-level error message takes. */
function located(file: string, tensor: string | undefined, detail: string): string {
  return `${file}${tensor ? ` [${tensor}]` : ''}: ${detail}`;
}

// ---------------------------------------------------------------- formats

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

export class SafetensorsError extends LabError {
  override readonly name = 'SafetensorsError';
  declare readonly file: string;
  constructor(
    readonly code: SafetensorsErrorCode,
    file: string,
    detail: string,
    tensor?: string,
  ) {
    super(located(file, tensor, detail), { file, tensor });
  }
}

export type CheckpointErrorCode = 'missing-file' | 'missing-shard' | 'bad-index' | 'bad-config' | 'duplicate-tensor';

export class CheckpointError extends LabError {
  override readonly name = 'CheckpointError';
  declare readonly file: string;
  constructor(
    readonly code: CheckpointErrorCode,
    file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`, { file });
  }
}

export class RecipeError extends LabError {
  override readonly name = 'RecipeError';
  readonly code = 'bad-recipe';
  declare readonly field: string;
  /** `field` is a dotted path such as `models[1].parameters.density`. */
  constructor(field: string, detail: string) {
    super(`recipe field '${field}': ${detail}`, { field });
  }
}

// ---------------------------------------------------------------- merging

export type MergeErrorCode = 'shape-mismatch' | 'missing-tensor' | 'vocab-mismatch' | 'backend' | 'busy';

export class MergeError extends LabError {
  override readonly name = 'MergeError';
  /** `cause`: the backend's own error when a merge step failed (a lost GPU device, say). */
  constructor(
    readonly code: MergeErrorCode,
    detail: string,
    tensor?: string,
    cause?: unknown,
  ) {
    super(tensor ? `tensor '${tensor}': ${detail}` : detail, { tensor }, cause === undefined ? undefined : { cause });
  }
}

// ---------------------------------------------------------------- cancellation

/** The one spelling of "the user cancelled": the same name as the DOM's AbortError. */
export class AbortError extends LabError {
  override readonly name = 'AbortError';
  readonly code = 'aborted';
  constructor(what = 'operation') {
    super(`${what} cancelled`);
  }
}

/** True for a cancellation from anywhere: this AbortError, the DOM's, or one rebuilt after postMessage. */
export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** Throws an AbortError naming `what` when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted) throw new AbortError(what);
}

// ---------------------------------------------------------------- reporting and transport

/** A LabError as plain data (what crosses a worker boundary). */
export interface LabErrorInfo {
  readonly lab: true;
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly file?: string | undefined;
  readonly tensor?: string | undefined;
  readonly field?: string | undefined;
}

export function isLabErrorInfo(v: unknown): v is LabErrorInfo {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { lab?: unknown }).lab === true &&
    typeof (v as { code?: unknown }).code === 'string'
  );
}

/** A LabError rebuilt from its record (on the far side of a worker boundary). */
export class RemoteLabError extends LabError {
  override readonly name: string;
  readonly code: string;
  constructor(info: LabErrorInfo) {
    super(info.message, info);
    this.name = info.name;
    this.code = info.code;
  }
}

export function fromErrorInfo(info: LabErrorInfo): LabError {
  return info.code === 'aborted'
    ? Object.assign(new AbortError(), { message: info.message })
    : new RemoteLabError(info);
}

/** The line a user sees for any error: `Name: message` for lab errors, the message otherwise. */
export function describeError(e: unknown): string {
  if (e instanceof LabError) return `${e.name}: ${e.message}`;
  if (isAbortError(e)) return (e as Error).message || 'cancelled';
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------- warnings

/** A non-fatal note about a recipe or a merge (an ignored key, a tensor merged by a fallback…). */
export interface LabWarning {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly tensor?: string;
}
