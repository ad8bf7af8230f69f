/**
 * The sensitivity worker: Sens-Merging calibration of one model in the page (per-layer
 * Σ|θ⊙∂L/∂θ| on calibration text, and the logit distances to the other models on the same token
 * ids), exposed with comlink. The backward pass is a parameter: `cpu` runs the plain-TS pass of
 * src/infer/sens/ (the only one so far; a WebGPU pass can join it as another backend). Progress goes
 * through a proxied callback; cancel() aborts the running calibration (it rejects with an
 * AbortError). `createSensitivityWorkerApi` is the whole API, so tests can expose it in Node.
 */
import { expose } from 'comlink';
import { LabError } from '../core/errors';
import { MapModelFolder } from '../core/io/byte-source';
import { type AnswerLength, chooseExamples, referenceExamples } from '../core/sens/calibration-text';
import type { SensStats } from '../core/sens/stats';
import { sensCalibrate } from '../infer/sens/calibrate';
import { installLabErrorTransfer } from './errors';

installLabErrorTransfer();

export class SensWorkerError extends LabError {
  override readonly name = 'SensWorkerError';
  constructor(
    readonly code: 'busy' | 'no-backend',
    detail: string,
  ) {
    super(detail);
  }
}

/** Which backward pass runs the calibration. */
export type SensBackend = 'cpu';
export const SENS_BACKENDS: readonly SensBackend[] = ['cpu'];

export interface WorkerModel {
  readonly name: string;
  readonly files: Record<string, Blob | Uint8Array>;
}

export interface SensitivityRequest {
  readonly model: WorkerModel;
  /** Models whose logit distance to `model` is recorded (the cross-task factor). */
  readonly compare: readonly WorkerModel[];
  /** The problem set (JSONL) whose reference solutions are the calibration text. */
  readonly setText: string;
  readonly setName: string;
  readonly answers: AnswerLength;
  readonly samples: number;
  readonly seed: number;
  readonly maxTokens: number | null;
  readonly backend?: SensBackend;
}

export type SensProgress = (done: number, total: number, phase: 'gradients' | 'distances') => void | Promise<void>;

const folder = (m: WorkerModel) => new MapModelFolder(m.name, new Map(Object.entries(m.files)));

export function createSensitivityWorkerApi() {
  let active: AbortController | undefined;
  return {
    async calibrate(req: SensitivityRequest, onProgress?: SensProgress): Promise<SensStats> {
      if (active) throw new SensWorkerError('busy', 'a sensitivity calibration is already running in this worker');
      const backend = req.backend ?? 'cpu';
      if (!SENS_BACKENDS.includes(backend))
        throw new SensWorkerError(
          'no-backend',
          `no '${backend}' backward pass (available: ${SENS_BACKENDS.join(', ')})`,
        );
      const ac = (active = new AbortController());
      try {
        const examples = chooseExamples(
          referenceExamples(req.setText, req.setName, req.answers),
          req.samples,
          req.seed,
        );
        return await sensCalibrate(folder(req.model), examples, req.setName, {
          text: 'reference',
          answers: req.answers,
          seed: req.seed,
          maxTokens: req.maxTokens,
          compare: req.compare.map(folder),
          signal: ac.signal,
          onProgress: (d, n, phase) => void Promise.resolve(onProgress?.(d, n, phase)).catch(() => undefined),
        });
      } finally {
        active = undefined;
      }
    },

    /** Cancels the running calibration (it rejects with an AbortError). */
    cancel(): void {
      active?.abort();
    },
  };
}

export type SensitivityWorkerApi = ReturnType<typeof createSensitivityWorkerApi>;

declare const WorkerGlobalScope: { new (): unknown } | undefined;
if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' && self instanceof WorkerGlobalScope)
  expose(createSensitivityWorkerApi());
