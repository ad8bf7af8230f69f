/**
 * A comlink connection to a worker that can die: every call also ends at the worker's death (seen
 * by worker-life.ts), so a worker that crashes, closes itself or is killed rejects the call in flight
 * with a WorkerStoppedError instead of leaving it pending forever; the dead worker is terminated
 * and the next call starts a new one. The merge and evaluation clients each own one.
 */
import { type Endpoint, type Remote, releaseProxy, wrap } from 'comlink';
import { type WorkerStoppedError, lifeLockName, watchWorkerLife } from './worker-life';

export type WorkerEndpoint = Endpoint & { terminate?: () => void };

/** What a watched worker's API offers: holding its life lock (worker-life.ts's holdLifeLock). */
export interface LifeLockApi {
  holdLifeLock(name: string): boolean | Promise<boolean>;
}

/** One worker's connection: its API, and who to tell when the worker dies. */
export interface Connection<Api> {
  readonly endpoint: WorkerEndpoint;
  readonly api: Remote<Api>;
  /** Calls `listener` with the death, once, if the worker dies; returns how to stop listening. */
  whenDead(listener: (e: WorkerStoppedError) => void): () => void;
  /** Set once the worker died. */
  death(): WorkerStoppedError | undefined;
  stop(): void;
}

type Watch<Api> = (api: Remote<Api>, onDeath: (e: WorkerStoppedError) => void) => () => void;

/** A connection over `endpoint`; watched with `watch` when given (else it never dies: a MessagePort in tests). */
export function connect<Api>(endpoint: WorkerEndpoint, watch?: Watch<Api>): Connection<Api> {
  const api = wrap<Api>(endpoint);
  let death: WorkerStoppedError | undefined;
  // Listeners, not a promise raced by every call: a call's result must not outlive it in a promise's reactions.
  const listeners = new Set<(e: WorkerStoppedError) => void>();
  const stop = watch?.(api, (e) => {
    death = e;
    for (const l of [...listeners]) l(e);
    listeners.clear();
  });
  return {
    endpoint,
    api,
    whenDead(listener) {
      if (death) {
        listener(death);
        return () => undefined;
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    death: () => death,
    stop: () => stop?.(),
  };
}

/** A connection to a worker just started, watched for its death (`what` names it in messages). */
export function watchedConnection<Api extends LifeLockApi>(worker: Worker, what: string): Connection<Api> {
  return connect<Api>(worker, (api, onDeath) => {
    const lock = lifeLockName();
    const held = Promise.resolve((api as unknown as LifeLockApi).holdLifeLock(lock)).catch(() => false);
    return watchWorkerLife(worker, what, lock, held, onDeath).stop;
  });
}

export class LiveWorker<Api> {
  private conn: Connection<Api> | undefined;
  private readonly respawn: (() => Connection<Api>) | undefined;

  /** An endpoint (a Worker, or a MessagePort in tests), or a way to start a watched worker, used again after a death. */
  constructor(source: WorkerEndpoint | (() => Connection<Api>)) {
    this.respawn = typeof source === 'function' ? source : undefined;
    this.conn = typeof source === 'function' ? source() : connect<Api>(source);
  }

  /** Whether a worker is running (a call would not start one). */
  get running(): boolean {
    return !!this.conn && !this.conn.death();
  }

  /** Runs `call` on the live worker (started if need be); rejects with a WorkerStoppedError if it dies first. */
  async call<T>(call: (api: Remote<Api>) => Promise<T>): Promise<T> {
    if (this.conn?.death()) this.drop(this.conn); // it died while idle
    const conn = (this.conn ??= this.respawn?.());
    if (!conn) throw new Error('the worker stopped and this client cannot start another');
    try {
      return await new Promise<T>((resolve, reject) => {
        const stopListening = conn.whenDead(reject);
        call(conn.api).then(resolve, reject).finally(stopListening);
      });
    } finally {
      if (conn.death()) this.drop(conn);
    }
  }

  /** Forgets a dead worker (terminating what is left of it); the next call starts another. */
  private drop(conn: Connection<Api>): void {
    conn.stop();
    conn.endpoint.terminate?.();
    if (this.conn === conn) this.conn = undefined;
  }

  dispose(): void {
    const conn = this.conn;
    if (!conn) return;
    conn.api[releaseProxy]();
    this.drop(conn);
  }
}
