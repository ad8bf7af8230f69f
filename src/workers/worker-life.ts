/**
 * Knowing when a Web Worker has died, so that no call to it waits forever. A worker that throws
 * an uncaught error fires 'error' on its Worker object, but one that calls close(), crashes or is
 * killed by the browser (out of memory) fires nothing. Web Locks fill that gap: the worker holds a
 * lock of its own for as long as it lives, and the browser releases it when the worker ends, for
 * whatever reason; the parent asks for the same lock, and getting it means the worker is gone.
 */
import { LabError } from '../core/errors';

/** A worker stopped (crashed, closed itself, or was killed) while the lab was waiting on it. */
export class WorkerStoppedError extends LabError {
  override readonly name = 'WorkerStoppedError';
  readonly code = 'worker-stopped';
  /** `what`: the worker (`the merge worker`); `detail`: how it stopped, as far as the page can tell. */
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what} stopped: ${detail}`);
  }
}

/** The first message to a worker that holds a life lock: the lock's name. */
export interface LifeLockMessage {
  readonly labLife: string;
}
/** The worker's answer once it holds the lock (false where it has no Web Locks). */
export interface LifeLockReply {
  readonly labAlive: boolean;
}

export function isLifeLockMessage(data: unknown): data is LifeLockMessage {
  return typeof data === 'object' && data !== null && typeof (data as { labLife?: unknown }).labLife === 'string';
}
export function isLifeLockReply(data: unknown): data is LifeLockReply {
  return typeof data === 'object' && data !== null && typeof (data as { labAlive?: unknown }).labAlive === 'boolean';
}

const LIFE_LOCK_PREFIX = 'merge-lab-worker-life-';

/** A fresh lock name for one worker's life. */
export function lifeLockName(): string {
  return `${LIFE_LOCK_PREFIX}${crypto.randomUUID()}`;
}

function lockManager(): LockManager | undefined {
  return typeof navigator !== 'undefined' ? navigator.locks : undefined;
}

/**
 * Worker side: takes `name` and holds it until this worker ends. Resolves once it is held (false
 * where there are no Web Locks: the parent then knows only what 'error' events tell it).
 */
export function holdLifeLock(name: string): Promise<boolean> {
  const locks = lockManager();
  if (!locks || !name.startsWith(LIFE_LOCK_PREFIX)) return Promise.resolve(false);
  return new Promise((held) => {
    void locks.request(name, () => {
      held(true);
      return new Promise<never>(() => undefined); // released only when the worker ends
    });
  });
}

/** What a worker's parent hears of its death. */
export interface LifeWatch {
  /** Stops watching (call before terminating the worker on purpose). */
  stop(): void;
}

/**
 * Parent side: calls `onDeath` once, with a WorkerStoppedError, when `worker` fires 'error' or
 * 'messageerror', or, after `lockHeld` resolved true, when the worker's life lock comes free.
 */
export function watchWorkerLife(
  worker: Worker,
  what: string,
  lockName: string,
  lockHeld: Promise<boolean>,
  onDeath: (e: WorkerStoppedError) => void,
): LifeWatch {
  let watching = true;
  const die = (detail: string) => {
    if (!watching) return;
    watching = false;
    onDeath(new WorkerStoppedError(what, detail));
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    die(e.message ? `an uncaught error in it (${e.message})` : 'it could not start or crashed');
  };
  const onMessageError = () => die('it sent a message that could not be read');
  worker.addEventListener('error', onError);
  worker.addEventListener('messageerror', onMessageError);
  const release = new AbortController();
  void lockHeld.then((held) => {
    const locks = lockManager();
    if (!held || !locks || !watching) return;
    locks
      .request(lockName, { signal: release.signal }, () =>
        die('it ended without a word (it closed, crashed or was killed)'),
      )
      .catch(() => undefined); // the watch was stopped
  });
  return {
    stop() {
      watching = false;
      release.abort();
      worker.removeEventListener('error', onError);
      worker.removeEventListener('messageerror', onMessageError);
    },
  };
}
