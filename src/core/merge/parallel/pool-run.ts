/**
 * The main side of a parallel merge: spreads a plan's tensors over tensor workers (first come,
 * first served, in plan order), serves their reads from the open checkpoints, and writes their
 * output chunks in plan order, exactly as the single-threaded loop would. Memory stays bounded:
 * each worker holds one tensor; the tensor being written streams through; chunks of later
 * tensors wait in a buffer of at most `bufferBytes`, beyond which their worker waits for its ack.
 * The first error (a worker's, rebuilt with its class, or a read's, as it was) or a cancel stops
 * every worker; the promise settles only once no write is in progress.
 */
import { AbortError, LabError, MergeError, isAbortError } from '../../errors';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../diagnostics';
import type { MergePlan, TensorPlan } from '../plan';
import {
  type MainMessage,
  type TensorTask,
  type TensorWorkerPool,
  type WorkerMessage,
  type WorkerPort,
  rebuildError,
  transferable,
} from './protocol';

export interface PooledRunContext {
  readonly plan: MergePlan;
  readonly pool: TensorWorkerPool;
  readonly chunkElements: number;
  readonly seed: number;
  readonly diagnose: boolean;
  readonly signal: AbortSignal | undefined;
  /** Output chunks of tensors not yet being written, in bytes, before their workers wait. */
  readonly bufferBytes: number;
  readonly begin: (tensor: TensorPlan) => Promise<void>;
  readonly write: (index: number, bytes: Uint8Array) => Promise<void>;
  readonly tensorDone: (index: number, diagnostics: TensorDiagnostics) => void;
  readonly counted: (bytes: number) => void;
  readonly onSpectrum: ((d: SpectrumDiagnostics) => void) | undefined;
}

interface Pending {
  readonly bytes: Uint8Array;
  /** Tells the worker to go on; undefined once told. */
  ack: (() => void) | undefined;
  readonly buffered: boolean;
}

interface TensorState {
  readonly chunks: Pending[];
  begun: boolean;
  diagnostics?: TensorDiagnostics;
}

/** The error a worker's failure on tensor `tp` stands for (the single-threaded merge's rule). */
function tensorError(e: Error, tp: TensorPlan, backend: string): Error {
  if (isAbortError(e) || e instanceof MergeError || (e instanceof LabError && (e.file || e.tensor || e.field)))
    return e;
  return new MergeError('backend', `merging on ${backend} failed: ${e.message}`, tp.name, e);
}

export function taskOf(ctx: PooledRunContext, id: number): TensorTask {
  const tp = ctx.plan.tensors[id]!;
  return {
    id,
    method: ctx.plan.spec.name,
    backend: ctx.pool.backend,
    tensor: {
      ...tp,
      inputs: tp.inputs.map(({ tensor, ...rest }) => ({ ...rest, tensorName: tensor.name, dtype: tensor.dtype })),
    },
    chunkElements: ctx.chunkElements,
    seed: ctx.seed,
    diagnose: ctx.diagnose,
    spectrum: ctx.onSpectrum !== undefined,
  };
}

export function runPooled(ctx: PooledRunContext): Promise<void> {
  const tensors = ctx.plan.tensors;
  if (tensors.length === 0) return Promise.resolve();
  const backendName = `${ctx.pool.backend} worker`;
  const states = new Map<number, TensorState>();
  const ports: WorkerPort[] = [];
  let next = 0;
  let head = 0;
  let buffered = 0;
  let pumping: Promise<void> | undefined;
  let settled = false;

  return new Promise<void>((resolve, reject) => {
    const finish = (e?: unknown) => {
      if (settled) return;
      settled = true;
      ctx.signal?.removeEventListener('abort', onAbort);
      for (const p of ports) p.close();
      // Settle only when no write is under way, so the caller's abort() never races a write.
      void (pumping ?? Promise.resolve()).finally(() => (e === undefined ? resolve() : reject(e)));
    };
    const onAbort = () => finish(new AbortError('merge'));
    if (ctx.signal?.aborted) return onAbort();
    ctx.signal?.addEventListener('abort', onAbort);

    const assign = (port: WorkerPort) => {
      if (next >= tensors.length || settled) return;
      const id = next++;
      states.set(id, { chunks: [], begun: false });
      port.post({ type: 'task', task: taskOf(ctx, id) } satisfies MainMessage);
    };

    const pump = async () => {
      while (!settled && head < tensors.length) {
        const st = states.get(head);
        if (!st) return;
        if (!st.begun) {
          await ctx.begin(tensors[head]!);
          st.begun = true;
        }
        const c = st.chunks.shift();
        if (c) {
          if (ctx.signal?.aborted) throw new AbortError('merge');
          await ctx.write(head, c.bytes);
          if (c.buffered) buffered -= c.bytes.byteLength;
          c.ack?.();
          continue;
        }
        if (!st.diagnostics) return;
        states.delete(head);
        ctx.tensorDone(head, st.diagnostics);
        head++;
      }
      if (head === tensors.length) finish();
    };
    const kick = () => {
      if (pumping || settled) return;
      // Messages are tasks, so none arrives between pump() returning and `pumping` being cleared.
      pumping = pump()
        .catch((e: unknown) => finish(e))
        .finally(() => (pumping = undefined));
    };

    const onMessage = (port: WorkerPort, m: WorkerMessage) => {
      if (settled) return;
      const tp = tensors[m.id]!;
      switch (m.type) {
        case 'read': {
          const inp = tp.inputs[m.input]!;
          inp.tensor.file.readRange(inp.tensor.name, m.start, m.count).then((raw) => {
            if (settled) return;
            const { bytes, buffer } = transferable(raw);
            port.post({ type: 'bytes', req: m.req, bytes } satisfies MainMessage, [buffer]);
          }, finish);
          return;
        }
        case 'chunk': {
          const ack = () => port.post({ type: 'ack', req: m.req } satisfies MainMessage);
          const st = states.get(m.id)!;
          const early = m.id !== head && buffered + m.bytes.byteLength <= ctx.bufferBytes;
          if (m.id !== head) buffered += m.bytes.byteLength;
          st.chunks.push({ bytes: m.bytes, ack: early ? undefined : ack, buffered: m.id !== head });
          if (early) ack();
          return kick();
        }
        case 'counted':
          return ctx.counted(m.bytes);
        case 'spectrum':
          return ctx.onSpectrum?.(m.spectrum);
        case 'done':
          states.get(m.id)!.diagnostics = m.diagnostics;
          assign(port);
          return kick();
        case 'failed':
          return finish(tensorError(rebuildError(m.error), tp, backendName));
      }
    };

    for (let w = 0; w < Math.min(ctx.pool.size, tensors.length); w++) {
      const port = ctx.pool.spawn();
      ports.push(port);
      port.listen(
        (m: WorkerMessage) => onMessage(port, m),
        (e) => finish(new MergeError('backend', `a merge worker stopped: ${e.message}`)),
      );
      assign(port);
    }
  });
}
