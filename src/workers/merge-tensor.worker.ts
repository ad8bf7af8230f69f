/** A tensor worker in the page: merges the tensors the merge worker hands it (see tensor-pool.ts). */
import { serveTensorWorker } from '../core/merge/parallel/tensor-worker';

const scope = self as unknown as {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
};

serveTensorWorker({
  post: (message, transfer) => scope.postMessage(message, transfer ?? []),
  listen: (onMessage) => {
    scope.onmessage = (e) => onMessage(e.data as Parameters<typeof onMessage>[0]);
  },
  close: () => scope.close(),
});
