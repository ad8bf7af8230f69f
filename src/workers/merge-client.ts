/**
 * The page's handle on the merge worker (one client per worker). Wraps the comlink API:
 * input Uint8Arrays are transferred (they are detached afterwards; Files/Blobs are cloned and
 * read lazily), progress arrives through a proxied callback, an AbortSignal cancels (the call then
 * rejects with an AbortError). LabErrors arrive with their code, file and tensor (workers/errors.ts).
 * A worker that dies mid-call (an uncaught error, close(), a crash) rejects the call with a
 * WorkerStoppedError instead of leaving it pending (worker-life.ts); the next call starts a new worker.
 */
import { type Remote, proxy, transfer } from 'comlink';
import { throwIfAborted } from '../core/errors';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../core/merge/diagnostics';
import type { MergeProgress } from '../core/merge/execute';
import type { AdapterReport } from '../gpu/device';
import { installLabErrorTransfer } from './errors';
import type { DareProbeArgs, MergeWorkerApi, WorkerMergeRequest, WorkerMergeResult } from './merge.worker';
import { type Connection, LiveWorker, type WorkerEndpoint, watchedConnection } from './live-worker';

installLabErrorTransfer();

export type { WorkerMergeRequest, WorkerMergeResult } from './merge.worker';

export interface MergeCallOptions {
  onProgress?: (p: MergeProgress) => void;
  /** Per-tensor diagnostics as the merge runs (norms, cosines, sign conflicts, thresholds). */
  onTensor?: (name: string, diagnostics: TensorDiagnostics) => void;
  /** SVD merges: singular-value spectra as each weight is decomposed. */
  onSpectrum?: (d: SpectrumDiagnostics) => void;
  signal?: AbortSignal;
}

export class MergeClient {
  private readonly worker: LiveWorker<MergeWorkerApi>;

  /**
   * A Worker running merge.worker.ts, or any comlink endpoint (tests: a MessagePort); or a way to
   * start one, used again once a worker died (spawn() gives that).
   */
  constructor(source: WorkerEndpoint | (() => Connection<MergeWorkerApi>)) {
    this.worker = new LiveWorker(source);
  }

  /** Starts the module worker (Vite bundles it from this URL pattern), and a new one after a death. */
  static spawn(): MergeClient {
    return new MergeClient(() =>
      watchedConnection<MergeWorkerApi>(
        new Worker(new URL('./merge.worker.ts', import.meta.url), { type: 'module', name: 'merge' }),
        'the merge worker',
      ),
    );
  }

  private call<T>(call: (api: Remote<MergeWorkerApi>) => Promise<T>): Promise<T> {
    return this.worker.call(call);
  }

  async merge(req: WorkerMergeRequest, opts: MergeCallOptions = {}): Promise<WorkerMergeResult> {
    const buffers = new Set<ArrayBuffer>();
    for (const files of Object.values(req.models))
      for (const f of Object.values(files))
        if (f instanceof Uint8Array && f.buffer instanceof ArrayBuffer) buffers.add(f.buffer);
    const onAbort = () => void this.cancel().catch(() => undefined);
    throwIfAborted(opts.signal, 'merge');
    opts.signal?.addEventListener('abort', onAbort);
    try {
      return await this.call((api) =>
        api.merge(
          transfer(req, [...buffers]),
          opts.onProgress ? proxy(opts.onProgress) : undefined,
          opts.onTensor ? proxy(opts.onTensor) : undefined,
          opts.onSpectrum ? proxy(opts.onSpectrum) : undefined,
        ),
      );
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  cancel(): Promise<void> {
    return this.worker.running ? this.call((api) => api.cancel()) : Promise.resolve();
  }

  gpuInfo(): Promise<AdapterReport | { error: string }> {
    return this.call<AdapterReport | { error: string }>((api) => api.gpuInfo());
  }

  /** DARE probe bytes from the worker's backend: e2e compares them with Node's (dareProbeBytes). */
  dareBytes(args?: DareProbeArgs, backend: 'webgpu' | 'cpu' | 'cpu-reference' = 'webgpu'): Promise<Uint8Array> {
    return this.call((api) => api.dareBytes(args, backend));
  }

  dispose(): void {
    this.worker.dispose();
  }
}
