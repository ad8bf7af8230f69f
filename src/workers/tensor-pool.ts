/**
 * Tensor workers as Web Workers, for a merge on the CPU in the page: the merge worker starts
 * `navigator.hardwareConcurrency` of them (merge-tensor.worker.ts) and spreads the tensors over
 * them (src/core/merge/parallel). Undefined where workers cannot start more workers, or with one core.
 * Each worker's death (an uncaught error, close(), a crash) is reported to the merge at once
 * (worker-life.ts) instead of leaving it waiting forever; `stoppedBy` tells a merge error that a
 * death caused from any other.
 */
import type { TensorWorkerPool, WorkerMessage, WorkerPort } from '../core/merge/parallel/protocol';
import type { TensorWorkerFaultMessage } from './merge-faults';
import {
  type LifeLockMessage,
  type WorkerStoppedError,
  isLifeLockReply,
  lifeLockName,
  watchWorkerLife,
} from './worker-life';

export interface WebTensorWorkerPool extends TensorWorkerPool {
  /** The worker death behind a merge error (the error reported for it, or one caused by it), if any. */
  stoppedBy(e: unknown): WorkerStoppedError | undefined;
}

function webPort(
  worker: Worker,
  onDeath: (reported: Error, e: WorkerStoppedError) => void,
  closeAfterTensors?: number,
): WorkerPort {
  const lock = lifeLockName();
  let answered: (held: boolean) => void = () => undefined;
  const held = new Promise<boolean>((res) => (answered = res));
  let failure: ((e: Error) => void) | undefined;
  let early: Error | undefined;
  const watch = watchWorkerLife(worker, 'a tensor worker', lock, held, (e) => {
    const reported = new Error(e.detail);
    onDeath(reported, e);
    if (failure) failure(reported);
    else early = reported;
  });
  worker.postMessage({ labLife: lock } satisfies LifeLockMessage);
  if (closeAfterTensors !== undefined)
    worker.postMessage({ labFault: { closeAfterTensors } } satisfies TensorWorkerFaultMessage);
  return {
    post: (message, transfer) => worker.postMessage(message, transfer ?? []),
    listen(onMessage, onFailure) {
      failure = onFailure;
      worker.onmessage = (e: MessageEvent) => {
        if (isLifeLockReply(e.data)) answered(e.data.labAlive);
        else onMessage(e.data as WorkerMessage as Parameters<typeof onMessage>[0]);
      };
      if (early) onFailure?.(early);
    },
    close: () => {
      watch.stop();
      worker.terminate();
    },
  };
}

/** `closeFirstAfter`: a fault for the tests, the first worker closes itself after that many tensors. */
export function webTensorWorkers(
  size = globalThis.navigator?.hardwareConcurrency ?? 1,
  closeFirstAfter?: number,
): WebTensorWorkerPool | undefined {
  if (typeof Worker === 'undefined' || size <= 1) return undefined;
  const deaths = new Map<unknown, WorkerStoppedError>();
  let spawned = 0;
  return {
    size,
    backend: 'cpu',
    stoppedBy(e) {
      for (let c = e, depth = 0; c !== undefined && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
        const death = deaths.get(c);
        if (death) return death;
      }
      return undefined;
    },
    spawn: () =>
      webPort(
        new Worker(new URL('./merge-tensor.worker.ts', import.meta.url), { type: 'module', name: 'merge-tensor' }),
        (reported, e) => deaths.set(reported, e),
        spawned++ === 0 ? closeFirstAfter : undefined,
      ),
  };
}
