/**
 * The page's handle on the evaluation worker (one client per worker): load models, evaluate with
 * streamed progress, cancel through an AbortSignal (the call rejects with an AbortError), AIM
 * calibration. Batched evaluation: load with `batchSize` B and evaluate with `batch` ≤ B; every
 * sequence's text streams through onText as it grows, and the signal stops the whole batch. Errors arrive as LabErrors with their code and file (./errors.ts).
 * A worker that dies mid-call rejects it with a WorkerStoppedError (live-worker.ts); the next call starts a new one.
 */
import { type Remote, proxy } from 'comlink';
import { throwIfAborted } from '../core/errors';
import type { EvalRun } from '../core/eval/run';
import type { ActivationStats } from '../core/merge/activation-stats';
import type { EpChoice, EpReport } from '../infer/runtime';
import { installLabErrorTransfer } from './errors';
import { type Connection, LiveWorker, type WorkerEndpoint, watchedConnection } from './live-worker';
import type {
  EvalCallbacks,
  EvalRequest,
  EvalWorkerApi,
  FormatPlans,
  LoadProgress,
  LoadedFormat,
  ModelLoadOptions,
  PlannedEval,
} from './eval.worker';

export type {
  EvalRequest,
  FormatPlans,
  LoadProgress,
  LoadedFormat,
  ModelLoadOptions,
  PlannedEval,
} from './eval.worker';

installLabErrorTransfer();

export class EvalClient {
  private readonly worker: LiveWorker<EvalWorkerApi>;

  /**
   * A Worker running eval.worker.ts, or any comlink endpoint (tests: a MessagePort); or a way to
   * start one, used again once a worker died (spawn() gives that: its loaded models are then gone).
   */
  constructor(source: WorkerEndpoint | (() => Connection<EvalWorkerApi>)) {
    this.worker = new LiveWorker(source);
  }

  /** Starts the module worker (Vite bundles it from this URL pattern), and a new one after a death. */
  static spawn(): EvalClient {
    return new EvalClient(() =>
      watchedConnection<EvalWorkerApi>(
        new Worker(new URL('./eval.worker.ts', import.meta.url), { type: 'module', name: 'eval' }),
        'the evaluation worker',
      ),
    );
  }

  private call<T>(call: (api: Remote<EvalWorkerApi>) => Promise<T>): Promise<T> {
    return this.worker.call(call);
  }

  private cancelWorker(): void {
    if (this.worker.running) void this.call((api) => api.cancel()).catch(() => undefined);
  }

  /**
   * Loads a model in a weight format; a model that does not fit rejects with InferError
   * 'does-not-fit' (unless forced). Hashing and packing report progress; aborting `signal` stops
   * the load (it rejects with an AbortError).
   */
  async load(
    name: string,
    files: Map<string, Blob>,
    ep: EpChoice = 'auto',
    opts: ModelLoadOptions = {},
    cb: { signal?: AbortSignal; onProgress?: (p: LoadProgress) => void } = {},
  ): Promise<EpReport> {
    throwIfAborted(cb.signal, 'loading');
    const onAbort = () => this.cancelWorker();
    cb.signal?.addEventListener('abort', onAbort);
    try {
      return await this.call((api) =>
        api.load(name, Object.fromEntries(files), ep, opts, cb.onProgress ? proxy(cb.onProgress) : undefined),
      );
    } finally {
      cb.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The weight format and plan summary a loaded model runs with, and where its weights came from. */
  loadedFormat(name: string): Promise<LoadedFormat | undefined> {
    return this.call((api) => api.loadedFormat(name));
  }

  /** The token budget an evaluation needs with a loaded model (its longest prompt + max new tokens). */
  tokenBudget(name: string, planned: PlannedEval): Promise<number | undefined> {
    return this.call((api) => api.tokenBudget(name, planned));
  }

  /** The memory plans of f32, f16 and q4 for the largest of the models, on the EP choice's target. */
  planFormats(
    models: ReadonlyMap<string, Map<string, Blob>>,
    ep: EpChoice,
    opts: Omit<ModelLoadOptions, 'weights' | 'force'> = {},
  ): Promise<FormatPlans | undefined> {
    const entries = [...models.entries()];
    return this.call((api) =>
      api.planFormats(
        entries.map(([, files]) => Object.fromEntries(files)),
        ep,
        { ...opts, names: entries.map(([name]) => name) },
      ),
    );
  }

  unload(name: string): Promise<void> {
    return this.call((api) => api.unload(name));
  }

  async evaluate(req: EvalRequest, cb: EvalCallbacks & { signal?: AbortSignal } = {}): Promise<EvalRun> {
    throwIfAborted(cb.signal, 'evaluation');
    // Shared memory (a cross-origin isolated page, Node) lets the worker see a cancel between
    // tokens even while its message queue waits; the cancel message is sent as well.
    const flag = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
    const onAbort = () => {
      if (flag) Atomics.store(flag, 0, 1);
      this.cancelWorker();
    };
    cb.signal?.addEventListener('abort', onAbort);
    try {
      return await this.call((api) =>
        api.evaluate(
          req,
          cb.onProgress ? proxy(cb.onProgress) : undefined,
          cb.onResponse ? proxy(cb.onResponse) : undefined,
          cb.onText ? proxy(cb.onText) : undefined,
          flag,
        ),
      );
    } finally {
      cb.signal?.removeEventListener('abort', onAbort);
    }
  }

  calibrate(
    name: string,
    files: Map<string, Blob>,
    setText: string,
    setName: string,
    samples: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<ActivationStats> {
    return this.call((api) =>
      api.calibrate(
        name,
        Object.fromEntries(files),
        setText,
        setName,
        samples,
        onProgress ? proxy(onProgress) : undefined,
      ),
    );
  }

  dispose(): void {
    this.worker.dispose();
  }
}
