/**
 * The page's handle on the inference worker (one client per worker): load a model, ask it,
 * stream tokens through a proxied callback, cancel with an AbortSignal.
 */
import { type Endpoint, type Remote, proxy, releaseProxy, transfer, wrap } from 'comlink';
import type { AskResult } from '../infer/engine';
import type { ChatMessage } from '../infer/tokenizer';
import type { InferWorkerApi, WorkerAskOptions, WorkerLoadRequest, WorkerLoadResult } from './infer.worker';

export type { WorkerAskOptions, WorkerLoadRequest, WorkerLoadResult } from './infer.worker';

export class InferClient {
  private readonly api: Remote<InferWorkerApi>;

  /** `endpoint`: a Worker running infer.worker.ts, or any comlink endpoint (tests: a MessagePort). */
  constructor(private readonly endpoint: Endpoint & { terminate?: () => void }) {
    this.api = wrap<InferWorkerApi>(endpoint);
  }

  static spawn(): InferClient {
    return new InferClient(new Worker(new URL('./infer.worker.ts', import.meta.url), { type: 'module', name: 'infer' }));
  }

  /** Transferred Uint8Arrays are detached afterwards; Files/Blobs are cloned and read in the worker. */
  load(req: WorkerLoadRequest): Promise<WorkerLoadResult> {
    const buffers = new Set<ArrayBuffer>();
    for (const f of Object.values(req.files)) if (f instanceof Uint8Array && f.buffer instanceof ArrayBuffer) buffers.add(f.buffer);
    return this.api.load(transfer(req, [...buffers]));
  }

  async ask(
    prompt: string | ChatMessage[],
    opts: WorkerAskOptions & { onToken?: (t: { id: number; text: string }) => void; signal?: AbortSignal } = {},
  ): Promise<AskResult> {
    const { onToken, signal, ...rest } = opts;
    if (signal?.aborted) throw new DOMException('generation cancelled', 'AbortError');
    const onAbort = () => void this.api.cancel();
    signal?.addEventListener('abort', onAbort);
    try {
      return await this.api.ask(prompt, rest, onToken ? proxy(onToken) : undefined);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  cancel(): Promise<void> {
    return this.api.cancel();
  }

  unload(): Promise<void> {
    return this.api.unload();
  }

  dispose(): void {
    this.api[releaseProxy]();
    this.endpoint.terminate?.();
  }
}
