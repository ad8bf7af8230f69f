/**
 * The sensitivity worker: Sens-Merging calibration of one model in the page (per-layer
 * Σ|θ⊙∂L/∂θ| on calibration text, and the logit distances to the other models on the same token
 * ids), exposed with comlink. The text is the set's reference solutions or a model's responses
 * from an eval results file (sens-calibration-text.ts, as the CLI's `--text responses`). The
 * backward pass is a parameter: `cpu` runs the plain-TS pass of src/infer/sens/ (f64), `webgpu` the WGSL one of src/infer/sens/gpu (f32) on this worker's GPU.
 * Progress goes through a proxied callback; cancel() aborts the running calibration (it rejects
 * with an AbortError). `createSensitivityWorkerApi` is the whole API, so tests can run it in Node
 * (with Dawn's GPU).
 */
import { expose } from 'comlink';
import { LabError } from '../core/errors';
import { MapModelFolder } from '../core/io/byte-source';
import { type AnswerLength, chooseExamples } from '../core/sens/calibration-text';
import type { SensStats } from '../core/sens/stats';
import { browserGpu } from '../gpu/device';
import { type SensBackendPass, sensCalibrate } from '../infer/sens/calibrate';
import { SensGpu } from '../infer/sens/gpu/context';
import { webgpuBackend } from '../infer/sens/gpu/pass';
import { installLabErrorTransfer } from './errors';
import { type ResponsesText, calibrationExamples } from './sens-calibration-text';

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
export type SensBackend = 'cpu' | 'webgpu';
export const SENS_BACKENDS: readonly SensBackend[] = ['cpu', 'webgpu'];

export interface WorkerModel {
  readonly name: string;
  readonly files: Record<string, Blob | Uint8Array>;
}

export interface SensitivityRequest {
  readonly model: WorkerModel;
  /** Models whose logit distance to `model` is recorded (the cross-task factor). */
  readonly compare: readonly WorkerModel[];
  /** The problem set (JSONL): its reference solutions are the calibration text, or its questions with `responses`. */
  readonly setText: string;
  readonly setName: string;
  /** A model's responses (an `eval --json` file) as the answers, as `--text responses` in the CLI. */
  readonly responses?: ResponsesText;
  readonly answers: AnswerLength;
  readonly samples: number;
  readonly seed: number;
  readonly maxTokens: number | null;
  readonly backend?: SensBackend;
}

export type SensProgress = (done: number, total: number, phase: 'gradients' | 'distances') => void | Promise<void>;

const folder = (m: WorkerModel) => new MapModelFolder(m.name, new Map(Object.entries(m.files)));

/** `getGpu`: the GPU a `webgpu` calibration runs on (navigator.gpu in a worker; tests pass Dawn's). */
export function createSensitivityWorkerApi(getGpu: () => Promise<GPU | undefined> = async () => browserGpu()) {
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
      let gpu: SensGpu | undefined;
      try {
        let pass: SensBackendPass | undefined;
        if (backend === 'webgpu') pass = webgpuBackend((gpu = await SensGpu.create(await getGpu())));
        const examples = chooseExamples(
          calibrationExamples(req.setText, req.setName, req.answers, req.responses),
          req.samples,
          req.seed,
        );
        return await sensCalibrate(folder(req.model), examples, req.setName, {
          text: req.responses ? 'responses' : 'reference',
          answers: req.answers,
          seed: req.seed,
          maxTokens: req.maxTokens,
          compare: req.compare.map(folder),
          signal: ac.signal,
          ...(pass ? { backend: pass } : {}),
          onProgress: (d, n, phase) => void Promise.resolve(onProgress?.(d, n, phase)).catch(() => undefined),
        });
      } finally {
        active = undefined;
        await gpu?.dispose();
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
