/** Inside a worker thread: serves tensor tasks from the merge on the parent port. */
import { parentPort } from 'node:worker_threads';
import type { WorkerPort } from '../core/merge/parallel/protocol';
import { serveTensorWorker } from '../core/merge/parallel/tensor-worker';

const parent = parentPort;
if (!parent) throw new Error('merge-thread-entry.ts runs only as a worker thread');

const port: WorkerPort = {
  post: (message, transfer) => parent.postMessage(message, transfer),
  listen: (onMessage) => void parent.on('message', onMessage),
  close: () => parent.close(),
};
serveTensorWorker(port);
