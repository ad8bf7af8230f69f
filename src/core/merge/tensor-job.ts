/** What a method sees of one output tensor: its inputs in chunks, its parameters, and a sink. */
import type { TensorBackend } from './backend';
import type { SpectrumDiagnostics, SvdSettings } from './methods/svd-common';

export interface InputParameters {
  readonly weight: number;
  readonly density: number;
  readonly gamma: number;
}

export interface TensorJob<T> {
  readonly name: string;
  readonly numel: number;
  readonly backend: TensorBackend<T>;
  /** Elements per chunk; the last chunk may be shorter. */
  readonly chunkElements: number;
  readonly numChunks: number;
  /** Per input model, in method order ([base, ...others] for task-vector methods and SLERP). */
  readonly inputs: readonly { readonly model: string; readonly params: InputParameters; readonly stream: number }[];
  readonly global: { readonly lambda: number; readonly normalize: boolean; readonly rescale: boolean; readonly t: number };
  readonly seed: number;
  /** The tensor's shape ([out, in] for a 2-D weight). */
  readonly shape: readonly number[];
  /** SVD family: per-tensor settings (see methods/svd-common.ts). */
  readonly svd?: SvdSettings;
  /** SVD family: receives the singular-value spectra the method computes (set when MergeOptions.onSpectrum is). */
  readonly spectrum?: (d: SpectrumDiagnostics) => void;
  /** Loads chunk `c` of every input. The job owns these handles: do not release them. */
  load(c: number): Promise<readonly T[]>;
  /** Chunk `c` of some inputs only, for passes that need few of them (radix selection); the caller releases them. */
  loadInputs(c: number, which: readonly number[]): Promise<readonly T[]>;
  /** Receives output chunks in order. The sink releases the handle. */
  emit(out: T): Promise<void>;
  /** Records a per-tensor statistic for diagnostics (fraction trimmed, thresholds…). */
  note(key: string, value: number): void;
  /** Whether to spend extra passes on diagnostics (task-vector norms, cosines, sign conflicts). */
  readonly diagnose: boolean;
}
