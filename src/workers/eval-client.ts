/** The page's handle on the evaluation worker (one client per worker). */
import { type Remote, proxy, releaseProxy, wrap } from 'comlink';
import type { EvalRun } from '../core/eval/run';
import type { ActivationStats } from '../core/merge/activation-stats';
import type { EpChoice, EpReport } from '../infer/runtime';
import type { EvalCallbacks, EvalRequest, EvalWorkerApi } from './eval.worker';

export type { EvalRequest } from './eval.worker';

export class EvalClient {
  private readonly api: Remote<EvalWorkerApi>;
  private constructor(private readonly worker: Worker) {
    this.api = wrap<EvalWorkerApi>(worker);
  }

  static spawn(): EvalClient {
    return new EvalClient(new Worker(new URL('./eval.worker.ts', import.meta.url), { type: 'module', name: 'eval' }));
  }

  load(name: string, files: Map<string, Blob>, ep: EpChoice = 'auto'): Promise<EpReport> {
    return this.api.load(name, Object.fromEntries(files), ep);
  }

  unload(name: string): Promise<void> {
    return this.api.unload(name);
  }

  async evaluate(req: EvalRequest, cb: EvalCallbacks & { signal?: AbortSignal } = {}): Promise<EvalRun> {
    const onAbort = () => void this.api.cancel();
    cb.signal?.addEventListener('abort', onAbort);
    try {
      return await this.api.evaluate(
        req,
        cb.onProgress ? proxy(cb.onProgress) : undefined,
        cb.onResponse ? proxy(cb.onResponse) : undefined,
        cb.onText ? proxy(cb.onText) : undefined,
      );
    } finally {
      cb.signal?.removeEventListener('abort', onAbort);
    }
  }

  calibrate(name: string, files: Map<string, Blob>, setText: string, setName: string, samples: number, onProgress?: (done: number, total: number) => void): Promise<ActivationStats> {
    return this.api.calibrate(name, Object.fromEntries(files), setText, setName, samples, onProgress ? proxy(onProgress) : undefined);
  }

  dispose(): void {
    this.api[releaseProxy]();
    this.worker.terminate();
  }
}
