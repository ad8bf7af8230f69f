/**
 * The messages between a merge and its tensor workers (worker threads in Node, Web Workers in the
 * page), and the port both sides talk through. A worker merges whole tensors: the main side owns
 * the input files and the output writer, so a worker asks it for input bytes (`read`), hands it
 * output chunks in order (`chunk`, answered by `ack` once written or buffered), and reports what
 * it read, each spectrum, and the tensor's diagnostics or its error. Plain data only.
 */
import type { DType } from '../../dtype';
import {
  AbortError,
  CheckpointError,
  LabError,
  type LabErrorInfo,
  MergeError,
  RecipeError,
  SafetensorsError,
  fromErrorInfo,
  isLabErrorInfo,
} from '../../errors';
import type { MergeMethodName } from '../../recipe/types';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../diagnostics';
import type { TensorPlan } from '../plan';

/** One end of a worker channel, whatever the platform. */
export interface WorkerPort {
  post(message: WorkerMessage | MainMessage, transfer?: ArrayBuffer[]): void;
  /** Messages from the other side; `onFailure` when the worker itself dies (a load error, a crash). */
  listen<M>(onMessage: (m: M) => void, onFailure?: (e: Error) => void): void;
  close(): void;
}

/** The backend a tensor worker merges on. */
export type WorkerBackendKind = 'cpu' | 'cpu-reference';

/** Starts tensor workers for one merge. */
export interface TensorWorkerPool {
  /** How many workers to start at most (fewer when the merge has fewer tensors). */
  readonly size: number;
  readonly backend: WorkerBackendKind;
  spawn(): WorkerPort;
}

/** A tensor's plan as plain data (its inputs without their open files). */
export interface TensorTask {
  readonly id: number;
  readonly method: MergeMethodName;
  readonly backend: WorkerBackendKind;
  readonly tensor: Omit<TensorPlan, 'inputs'> & {
    readonly inputs: readonly (Omit<TensorPlan['inputs'][number], 'tensor'> & {
      readonly tensorName: string;
      readonly dtype: DType;
    })[];
  };
  readonly chunkElements: number;
  readonly seed: number;
  readonly diagnose: boolean;
  readonly spectrum: boolean;
}

export type MainMessage =
  | { readonly type: 'task'; readonly task: TensorTask }
  /** `shared`: the bytes are in a shared buffer, handed back (`recycle`) once merged for the next read. */
  | { readonly type: 'bytes'; readonly req: number; readonly bytes: Uint8Array; readonly shared: boolean }
  | { readonly type: 'ack'; readonly req: number }
  /** An output chunk's buffer, written: the worker may fill it again. */
  | { readonly type: 'written'; readonly buffer: ArrayBuffer };

export type WorkerMessage =
  | {
      readonly type: 'read';
      readonly id: number;
      readonly req: number;
      readonly input: number;
      readonly start: number;
      readonly count: number;
    }
  | { readonly type: 'chunk'; readonly id: number; readonly req: number; readonly bytes: Uint8Array }
  | { readonly type: 'counted'; readonly id: number; readonly bytes: number }
  | { readonly type: 'recycle'; readonly buffer: SharedArrayBuffer }
  | { readonly type: 'spectrum'; readonly id: number; readonly spectrum: SpectrumDiagnostics }
  | { readonly type: 'done'; readonly id: number; readonly diagnostics: TensorDiagnostics }
  | { readonly type: 'failed'; readonly id: number; readonly error: ErrorRecord };

export type ErrorRecord =
  | LabErrorInfo
  | { readonly lab?: undefined; readonly name: string; readonly message: string; readonly stack?: string | undefined };

/** Bytes ready to transfer: the array's own whole buffer, or a copy that is. */
export function transferable(bytes: Uint8Array): { bytes: Uint8Array; buffer: ArrayBuffer } {
  const own =
    bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const out = own ? bytes : bytes.slice();
  return { bytes: out, buffer: out.buffer as ArrayBuffer };
}

export function errorRecord(e: unknown): ErrorRecord {
  if (e instanceof LabError) return { ...e.toInfo(), ...(e.stack ? { stack: e.stack } : {}) };
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message, stack: err.stack };
}

const LAB_CLASSES: Record<string, { prototype: object }> = {
  MergeError,
  SafetensorsError,
  CheckpointError,
  RecipeError,
  AbortError,
};

/** The error a worker reported, rebuilt with its class (MergeError stays a MergeError), code, file and tensor. */
export function rebuildError(r: ErrorRecord & { stack?: string | undefined }): Error {
  if (!isLabErrorInfo(r))
    return Object.assign(new Error(r.message), { name: r.name, ...(r.stack ? { stack: r.stack } : {}) });
  const cls = LAB_CLASSES[r.name];
  if (!cls) return fromErrorInfo(r);
  const e = Object.create(cls.prototype) as LabError;
  Object.assign(e, { name: r.name, message: r.message, code: r.code, file: r.file, tensor: r.tensor, field: r.field });
  if (r.stack) Object.defineProperty(e, 'stack', { value: r.stack, writable: true, configurable: true });
  return e;
}

/**
 * `e` located at `tensor` as well, when it names a file but no tensor (a read that failed while that
 * tensor was being merged): a copy of the same class, code and file; anything else as it is.
 */
export function atTensor(e: unknown, tensor: string): unknown {
  if (!(e instanceof LabError) || !e.file || e.tensor) return e;
  const located = Object.create(Object.getPrototypeOf(e) as object) as LabError;
  Object.assign(located, e, { tensor, message: `${e.message} (reading tensor '${tensor}')` });
  for (const key of ['stack', 'cause'] as const)
    if (key in e) Object.defineProperty(located, key, { value: e[key], writable: true, configurable: true });
  return located;
}
