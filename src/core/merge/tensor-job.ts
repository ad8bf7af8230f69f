/**
 * What a method sees of one output tensor: its inputs in chunks, its parameters, a sink for the
 * merged chunks and the tensor's diagnostics record. Methods depend on this file; it depends on
 * no method.
 */
import type { TensorBackend } from './backend';
import type { SpectrumDiagnostics, TensorDiagnostics } from './diagnostics';

export interface InputParameters {
  readonly weight: number;
  readonly density: number;
  readonly gamma: number;
  /** DELLA's ε (keep probabilities span density ± ε); absent for other methods. */
  readonly epsilon?: number;
}

/** Per-tensor settings of the SVD family (resolved by the planner; undefined = method default). */
export interface SvdSettings {
  readonly rank: number | undefined;
  readonly energy: number | undefined;
  readonly mu: number;
  readonly iterations: number;
  /** iso_cts: share of the rank given to the common subspace (undefined = 0.8). */
  readonly commonFraction?: number | undefined;
  readonly oversample: number;
  readonly powerIters: number;
  /** False only for lore without a base_model: then every input is a model. */
  readonly hasBase: boolean;
  /** Why this tensor is merged with task arithmetic instead (not 2-D, or an embedding). */
  readonly fallback: string | undefined;
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
  readonly global: {
    readonly lambda: number;
    readonly normalize: boolean;
    readonly rescale: boolean;
    readonly t: number;
    /** The `tensor` family's own global parameters (select_topk, filter_wise, …), resolved for this tensor. */
    readonly options?: Readonly<Record<string, number | boolean>>;
  };
  readonly seed: number;
  /** The tensor's shape ([out, in] for a 2-D weight). */
  readonly shape: readonly number[];
  /** SVD family: per-tensor settings. */
  readonly svd?: SvdSettings | undefined;
  /** SVD family: receives the singular-value spectra the method computes (set when MergeOptions.onSpectrum is). */
  readonly spectrum?: ((d: SpectrumDiagnostics) => void) | undefined;
  /** Loads chunk `c` of every input. The job owns these handles: do not release them. */
  load(c: number): Promise<readonly T[]>;
  /** Chunk `c` of some inputs only, for passes that need few of them (radix selection); the caller releases them. */
  loadInputs(c: number, which: readonly number[]): Promise<readonly T[]>;
  /** Receives output chunks in order. The sink releases the handle. */
  emit(out: T): Promise<void>;
  /**
   * False when emit reads nothing of the loaded chunk once called (no AIM post-step against θ₀), so
   * the next chunk may be loaded while an emit is still storing (run-method.ts pipelines it then).
   */
  readonly emitReadsInputs?: boolean;
  /** This tensor's diagnostics; methods add what they measure (thresholds, coefficients, ranks…). */
  readonly diagnostics: TensorDiagnostics;
  /** Whether to spend extra passes on diagnostics (task-vector norms, cosines, sign conflicts). */
  readonly diagnose: boolean;
}

/**
 * A pass over some inputs (`which`: indices into `inputs`) chunk after chunk, with the next chunk
 * read while one is visited; each chunk's handles are released after its visit.
 */
export async function eachInputChunk<T>(
  job: TensorJob<T>,
  which: readonly number[],
  visit: (ins: readonly T[], c: number) => void,
): Promise<void> {
  let next = job.loadInputs(0, which);
  for (let c = 0; c < job.numChunks; c++) {
    const ins = await next;
    if (c + 1 < job.numChunks) {
      next = job.loadInputs(c + 1, which);
      next.catch(() => undefined); // surfaced when awaited
    }
    try {
      visit(ins, c);
    } finally {
      ins.forEach((h) => job.backend.release(h));
    }
  }
}
