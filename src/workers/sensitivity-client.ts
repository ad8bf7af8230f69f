/**
 * The page's handle on the sensitivity worker: one calibration at a time, progress through a
 * proxied callback, an AbortSignal cancels (the call then rejects with an AbortError). LabErrors
 * (a set with no usable target tokens, a model without config) arrive with their code and file.
 */
import { type Endpoint, type Remote, proxy, wrap } from 'comlink';
import type { SensStats } from '../core/sens/stats';
import { installLabErrorTransfer } from './errors';
import type { SensProgress, SensitivityRequest, SensitivityWorkerApi } from './sensitivity.worker';

installLabErrorTransfer();

export type { SensBackend, SensitivityRequest, WorkerModel } from './sensitivity.worker';
export type { ResponsesText } from './sens-calibration-text';

export class SensitivityClient {
  private readonly api: Remote<SensitivityWorkerApi>;

  /** A Worker running sensitivity.worker.ts, or any comlink endpoint (tests: a MessagePort). */
  constructor(endpoint: Endpoint) {
    this.api = wrap<SensitivityWorkerApi>(endpoint);
  }

  /** Starts the module worker (Vite bundles it from this URL pattern). */
  static spawn(): SensitivityClient {
    return new SensitivityClient(
      new Worker(new URL('./sensitivity.worker.ts', import.meta.url), { type: 'module', name: 'sensitivity' }),
    );
  }

  async calibrate(
    req: SensitivityRequest,
    opts: { onProgress?: SensProgress; signal?: AbortSignal } = {},
  ): Promise<SensStats> {
    const onAbort = () => void this.api.cancel();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.api.calibrate(req, opts.onProgress ? proxy(opts.onProgress) : undefined);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }
}
