/**
 * A tensor worker in the page: merges the tensors the merge worker hands it (see tensor-pool.ts).
 * It holds its life lock (worker-life.ts) so that the merge hears of its death, and, as a fault
 * for the tests (merge-faults.ts), can close itself after finishing a given number of tensors.
 */
import type { WorkerMessage } from '../core/merge/parallel/protocol';
import { serveTensorWorker } from '../core/merge/parallel/tensor-worker';
import { isTensorWorkerFault } from './merge-faults';
import { type LifeLockReply, holdLifeLock, isLifeLockMessage } from './worker-life';

const scope = self as unknown as {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
};

let closeAfter = Infinity;
let finished = 0;

serveTensorWorker({
  post: (message, transfer) => {
    scope.postMessage(message, transfer ?? []);
    if ((message as WorkerMessage).type === 'done' && ++finished >= closeAfter) scope.close();
  },
  listen: (onMessage) => {
    scope.onmessage = (e) => {
      if (isLifeLockMessage(e.data))
        void holdLifeLock(e.data.labLife).then((held) => scope.postMessage({ labAlive: held } satisfies LifeLockReply));
      else if (isTensorWorkerFault(e.data)) closeAfter = e.data.labFault.closeAfterTensors;
      else onMessage(e.data as Parameters<typeof onMessage>[0]);
    };
  },
  close: () => scope.close(),
});
