/**
 * Tensor workers as Web Workers, for a merge on the CPU in the page: the merge worker starts
 * `navigator.hardwareConcurrency` of them (merge-tensor.worker.ts) and spreads the tensors over
 * them (src/core/merge/parallel). Undefined where workers cannot start more workers, or with one core.
 */
import type { TensorWorkerPool, WorkerPort } from '../core/merge/parallel/protocol';

function webPort(worker: Worker): WorkerPort {
  return {
    post: (message, transfer) => worker.postMessage(message, transfer ?? []),
    listen(onMessage, onFailure) {
      worker.onmessage = (e: MessageEvent) => onMessage(e.data as Parameters<typeof onMessage>[0]);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        onFailure?.(new Error(e.message || 'a merge worker could not start'));
      };
      worker.onmessageerror = () => onFailure?.(new Error('a merge worker sent a message that could not be read'));
    },
    close: () => worker.terminate(),
  };
}

export function webTensorWorkers(size = globalThis.navigator?.hardwareConcurrency ?? 1): TensorWorkerPool | undefined {
  if (typeof Worker === 'undefined' || size <= 1) return undefined;
  return {
    size,
    backend: 'cpu',
    spawn: () =>
      webPort(
        new Worker(new URL('./merge-tensor.worker.ts', import.meta.url), { type: 'module', name: 'merge-tensor' }),
      ),
  };
}
