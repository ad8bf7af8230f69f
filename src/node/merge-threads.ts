/**
 * Tensor workers as Node worker threads (merge-lab merge --threads N). Each thread runs
 * merge-thread.mjs, which loads the TypeScript sources through tsx (as bin/merge-lab.mjs does),
 * so the same files serve `npx merge-lab`, `tsx` and vitest.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TensorWorkerPool, WorkerBackendKind, WorkerPort } from '../core/merge/parallel/protocol';

const ENTRY = new URL('./merge-thread.mjs', import.meta.url);

/** The main side's end of one worker thread. */
function threadPort(worker: Worker): WorkerPort {
  let closed = false;
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    listen(onMessage, onFailure) {
      worker.on('message', onMessage);
      worker.on('error', (e) => onFailure?.(e));
      worker.on('exit', (code) => {
        if (!closed) onFailure?.(new Error(`worker thread exited with code ${code}`));
      });
    },
    close() {
      closed = true;
      void worker.terminate();
    },
  };
}

/** Whether this copy of the CLI can start tensor threads (a bundle without merge-thread.mjs beside it cannot). */
export const threadsAvailable = (): boolean => ENTRY.protocol === 'file:' && existsSync(fileURLToPath(ENTRY));

/** The default thread count: the cores this process may use. */
export const defaultThreads = (): number => availableParallelism();

export interface ThreadOptions {
  /** The thread's module (default merge-thread.mjs); tests start one that wraps it. */
  readonly entry?: URL;
  /** Passed to each thread as `workerData`. */
  readonly workerData?: unknown;
}

export function nodeTensorWorkers(
  size: number,
  backend: WorkerBackendKind = 'cpu',
  opts: ThreadOptions = {},
): TensorWorkerPool {
  return { size, backend, spawn: () => threadPort(new Worker(opts.entry ?? ENTRY, { workerData: opts.workerData })) };
}
