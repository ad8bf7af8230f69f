/**
 * The page's handle on the merge worker (one client per worker). Wraps the comlink API:
 * input Uint8Arrays are transferred (they are detached afterwards; Files/Blobs are cloned and
 * read lazily), progress arrives through a proxied callback, an AbortSignal cancels (the call then
 * rejects with an AbortError). LabErrors arrive with their code, file and tensor (workers/errors.ts).
 * A worker that dies mid-call (an uncaught error, close(), a crash) rejects the call with a
 * WorkerStoppedError instead of leaving it pending (worker-life.ts); the next call starts a new worker.
 */
import { type Endpoint, type Remote, proxy, releaseProxy, transfer, wrap } from 'comlink';
import { throwIfAborted } from '../core/errors';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../core/merge/diagnostics';
import type { MergeProgress } from '../core/merge/execute';
import type { AdapterReport } from '../gpu/device';
import { installLabErrorTransfer } from './errors';
import type { DareProbeArgs, MergeWorkerApi, WorkerMergeRequest, WorkerMergeResult } from './merge.worker';
import { type WorkerStoppedError, lifeLockName, watchWorkerLife } from './worker-life';

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

type MergeEndpoint = Endpoint & { terminate?: () => void };

/** One worker's connection: its API, and a promise that rejects when the worker dies. */
interface Connection {
  readonly endpoint: MergeEndpoint;
  readonly api: Remote<MergeWorkerApi>;
  readonly died: Promise<never>;
  /** Set once the worker died. */
  readonly death: () => WorkerStoppedError | undefined;
  stop(): void;
}

type Watch = (api: Remote<MergeWorkerApi>, onDeath: (e: WorkerStoppedError) => void) => () => void;

function connect(endpoint: MergeEndpoint, watch?: Watch): Connection {
  const api = wrap<MergeWorkerApi>(endpoint);
  let death: WorkerStoppedError | undefined;
  let stop = () => undefined as void;
  const died = new Promise<never>((_, reject) => {
    if (watch) stop = watch(api, (e) => reject((death = e)));
  });
  died.catch(() => undefined); // observed by the calls racing it
  return { endpoint, api, died, death: () => death, stop: () => stop() };
}

/** A new merge worker, watched for its death. */
function spawnWorker(): Connection {
  const worker = new Worker(new URL('./merge.worker.ts', import.meta.url), { type: 'module', name: 'merge' });
  return connect(worker, (api, onDeath) => {
    const lock = lifeLockName();
    const held = api.holdLifeLock(lock).catch(() => false);
    return watchWorkerLife(worker, 'the merge worker', lock, held, onDeath).stop;
  });
}

export class MergeClient {
  private conn: Connection | undefined;
  private readonly respawn: (() => Connection) | undefined;

  /**
   * A Worker running merge.worker.ts, or any comlink endpoint (tests: a MessagePort); or a way to
   * start one, used again once a worker died (spawn() gives that).
   */
  constructor(source: MergeEndpoint | (() => Connection)) {
    this.respawn = typeof source === 'function' ? source : undefined;
    this.conn = typeof source === 'function' ? source() : connect(source);
  }

  /** Starts the module worker (Vite bundles it from this URL pattern), and a new one after a death. */
  static spawn(): MergeClient {
    return new MergeClient(spawnWorker);
  }

  /** Runs `call` on the live worker (started if need be); rejects with a WorkerStoppedError if it dies first. */
  private async call<T>(call: (api: Remote<MergeWorkerApi>) => Promise<T>): Promise<T> {
    if (this.conn?.death()) this.drop(this.conn); // it died while idle
    const conn = (this.conn ??= this.respawn?.());
    if (!conn) throw new Error('the merge worker stopped and this client cannot start another');
    try {
      return await Promise.race([call(conn.api), conn.died]);
    } finally {
      if (conn.death()) this.drop(conn);
    }
  }

  /** Forgets a dead worker (terminating what is left of it); the next call starts another. */
  private drop(conn: Connection): void {
    conn.stop();
    conn.endpoint.terminate?.();
    if (this.conn === conn) this.conn = undefined;
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
    return this.conn ? this.call((api) => api.cancel()) : Promise.resolve();
  }

  gpuInfo(): Promise<AdapterReport | { error: string }> {
    return this.call<AdapterReport | { error: string }>((api) => api.gpuInfo());
  }

  /** DARE probe bytes from the worker's backend: e2e compares them with Node's (dareProbeBytes). */
  dareBytes(args?: DareProbeArgs, backend: 'webgpu' | 'cpu' | 'cpu-reference' = 'webgpu'): Promise<Uint8Array> {
    return this.call((api) => api.dareBytes(args, backend));
  }

  dispose(): void {
    const conn = this.conn;
    if (!conn) return;
    conn.api[releaseProxy]();
    this.drop(conn);
  }
}
