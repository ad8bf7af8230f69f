/**
 * The main side of a parallel merge: spreads a plan's tensors over tensor workers (first come,
 * first served, in plan order), serves their reads from the open checkpoints, and writes each
 * output chunk as soon as it comes, at its place in the output (`write(tensor, offset, bytes)`),
 * so no tensor waits for the one before it. A worker waits for each chunk's ack, sent once the
 * chunk is written: memory stays bounded at one tensor and one chunk per worker. Tensors are
 * reported done (`tensorDone`) in plan order, exactly as the single-threaded loop would. The first
 * error (a worker's, rebuilt with its class, or a read's, as it was) or a cancel stops every
 * worker; the promise settles only once no write is in progress.
 *
 * A worker that dies (a crash, out of memory, killed) does not lose the merge: the tensor it held is
 * merged again from its start on a fresh worker, whose first chunks (those already taken from the
 * dead one) are dropped, so the output is the same bytes. A tensor whose workers die
 * MAX_TENSOR_ATTEMPTS times in a row fails the merge with a MergeError naming it.
 */
import { AbortError, LabError, MergeError, isAbortError } from '../../errors';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../diagnostics';
import { itemSize } from '../../dtype';
import type { MergePlan, TensorPlan } from '../plan';
import { SharedReadBuffers, canShareMemory } from './shared-reads';
import {
  type MainMessage,
  type TensorTask,
  type TensorWorkerPool,
  type WorkerMessage,
  type WorkerPort,
  atTensor,
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
  /** Writes output bytes of the tensor at `index` in the plan, `offset` bytes into it. */
  readonly write: (index: number, offset: number, bytes: Uint8Array) => Promise<void>;
  /** Called in plan order, once the tensor's bytes are all written. */
  readonly tensorDone: (index: number, diagnostics: TensorDiagnostics) => void;
  readonly counted: (bytes: number) => void;
  readonly onSpectrum: ((d: SpectrumDiagnostics) => void) | undefined;
  /** A worker died holding `tensor`; it is merged again on a new worker (`attempt` counts from 2). */
  readonly onRetry?: (tensor: string, attempt: number, why: string) => void;
}

/** Tries per tensor before a dying worker fails the merge (the first and two more on fresh workers). */
export const MAX_TENSOR_ATTEMPTS = 3;

/**
 * Shared read buffers kept idle for later reads, at most: in practice all of them (about 90 MB for
 * the 0.5B-shaped benchmark, what the workers hold at once). A dropped shared buffer is freed only
 * once every thread that saw it collects its garbage, so dropping them made memory grow (560 MB
 * peak for task arithmetic with a 48 MB cap, 300 MB without one).
 */
const IDLE_READ_BYTES = 256 * 2 ** 20;

interface TensorState {
  /** Output bytes taken so far: where the next chunk goes. */
  outBytes: number;
  diagnostics?: TensorDiagnostics;
  /** Workers started on this tensor so far. */
  attempts: number;
  /** What was taken from earlier attempts (chunks, spectra, bytes read), and what a retry still has to skip of its own. */
  readonly taken: Progress;
  readonly skip: Progress;
}

interface Progress {
  chunks: number;
  spectra: number;
  bytes: number;
}

/** One worker and the tensor it is merging (undefined when idle). */
interface Slot {
  readonly port: WorkerPort;
  holding: number | undefined;
  dead: boolean;
}

/** The error a worker's failure on tensor `tp` stands for (the single-threaded merge's rule). */
function tensorError(e: Error, tp: TensorPlan, backend: string): Error {
  if (isAbortError(e) || e instanceof MergeError || (e instanceof LabError && (e.file || e.tensor || e.field)))
    return atTensor(e, tp.name) as Error;
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
  const slots: Slot[] = [];
  let next = 0;
  /** The first tensor, in plan order, not yet reported done. */
  let head = 0;
  /** Writes (and done reports) in the order they were asked for; it never rejects. */
  let writing: Promise<void> = Promise.resolve();
  let settled = false;
  // Shared read buffers, where workers hand them back (the fast CPU backend does) and memory can be shared.
  const shared = ctx.pool.backend === 'cpu' && canShareMemory() ? new SharedReadBuffers(IDLE_READ_BYTES) : undefined;
  /** Output buffers go back to the worker once written, for its next chunks (the fast CPU backend reuses them). */
  const reusesOutputs = ctx.pool.backend === 'cpu';
  /** Whether the inputs' sources read into a given buffer (Node files do, Blobs do not); known after the first try. */
  let readsInto: boolean | undefined;

  return new Promise<void>((resolve, reject) => {
    const finish = (e?: unknown) => {
      if (settled) return;
      settled = true;
      ctx.signal?.removeEventListener('abort', onAbort);
      for (const s of slots) s.port.close();
      // Settle only when no write is under way, so the caller's abort() never races a write.
      void writing.then(() => (e === undefined ? resolve() : reject(e)));
    };
    const onAbort = () => finish(new AbortError('merge'));
    if (ctx.signal?.aborted) return onAbort();
    ctx.signal?.addEventListener('abort', onAbort);

    const send = (slot: Slot, m: MainMessage, transfer?: ArrayBuffer[]) => {
      if (!slot.dead) slot.port.post(m, transfer);
    };
    const start = (slot: Slot, id: number) => {
      slot.holding = id;
      send(slot, { type: 'task', task: taskOf(ctx, id) });
    };
    const assign = (slot: Slot) => {
      slot.holding = undefined;
      if (next >= tensors.length || settled) return;
      const id = next++;
      const none = () => ({ chunks: 0, spectra: 0, bytes: 0 });
      states.set(id, { outBytes: 0, attempts: 1, taken: none(), skip: none() });
      start(slot, id);
    };

    /** Runs `step` after every write asked for before it; its error fails the merge. */
    const enqueue = (step: () => Promise<void> | void) => {
      writing = writing.then(() => (settled ? undefined : step())).catch((e: unknown) => finish(e));
    };
    /** Reports done, in plan order, the tensors whose workers finished them (their bytes all written). */
    const reportDone = () => {
      for (let st = states.get(head); st?.diagnostics; st = states.get(head)) {
        states.delete(head);
        ctx.tensorDone(head, st.diagnostics);
        head++;
      }
      if (head === tensors.length) finish();
    };

    const onMessage = (slot: Slot, m: WorkerMessage) => {
      if (settled || slot.dead) return;
      if (m.type === 'recycle') return shared?.give(m.buffer);
      const tp = tensors[m.id]!;
      const st = states.get(m.id)!;
      switch (m.type) {
        case 'read': {
          const inp = tp.inputs[m.input]!;
          const into = readsInto === false ? undefined : shared?.take(m.count * itemSize(inp.tensor.dtype));
          inp.tensor.file.readRange(inp.tensor.name, m.start, m.count, into).then(
            (raw) => {
              if (settled) return;
              const inPlace = into !== undefined && raw.buffer === into.buffer;
              if (into) readsInto = inPlace;
              if (inPlace) return send(slot, { type: 'bytes', req: m.req, bytes: raw, shared: true });
              const { bytes, buffer } = transferable(raw);
              send(slot, { type: 'bytes', req: m.req, bytes, shared: false }, [buffer]);
            },
            (e: unknown) => finish(atTensor(e, tp.name)),
          );
          return;
        }
        case 'chunk': {
          const ack = () => send(slot, { type: 'ack', req: m.req });
          // A retry's chunks up to where its dead predecessor got are already taken: the same bytes.
          if (st.skip.chunks > 0) {
            st.skip.chunks--;
            return ack();
          }
          st.taken.chunks++;
          const offset = st.outBytes;
          st.outBytes += m.bytes.byteLength;
          return enqueue(async () => {
            if (ctx.signal?.aborted) throw new AbortError('merge');
            await ctx.write(m.id, offset, m.bytes);
            // The buffer first, so that the worker's next chunk can go into it.
            const buffer = m.bytes.buffer as ArrayBuffer;
            if (reusesOutputs) send(slot, { type: 'written', buffer }, [buffer]);
            ack();
          });
        }
        case 'counted': {
          const skipped = Math.min(st.skip.bytes, m.bytes);
          st.skip.bytes -= skipped;
          st.taken.bytes += m.bytes - skipped;
          return ctx.counted(m.bytes - skipped);
        }
        case 'spectrum':
          if (st.skip.spectra > 0) return void st.skip.spectra--;
          st.taken.spectra++;
          return ctx.onSpectrum?.(m.spectrum);
        case 'done':
          st.diagnostics = m.diagnostics;
          assign(slot);
          // After the writes asked for so far: a dead predecessor's last chunk may still be going in.
          return enqueue(reportDone);
        case 'failed':
          return finish(tensorError(rebuildError(m.error), tp, backendName));
      }
    };

    /** A worker died: the tensor it held starts again on a new worker, up to MAX_TENSOR_ATTEMPTS tries. */
    const onDeath = (slot: Slot, e: Error) => {
      if (settled || slot.dead) return;
      slot.dead = true;
      slot.port.close();
      const id = slot.holding;
      if (id === undefined) return; // idle: nothing lost
      const st = states.get(id)!;
      const name = tensors[id]!.name;
      if (st.attempts >= MAX_TENSOR_ATTEMPTS)
        return finish(
          new MergeError(
            'backend',
            `a merge worker stopped while merging this tensor (${e.message}), ${st.attempts} times in a row; nothing of this merge is kept`,
            name,
            e,
          ),
        );
      st.attempts++;
      Object.assign(st.skip, st.taken);
      ctx.onRetry?.(name, st.attempts, e.message);
      start(spawn(), id);
    };

    const spawn = (): Slot => {
      const slot: Slot = { port: ctx.pool.spawn(), holding: undefined, dead: false };
      slots.push(slot);
      slot.port.listen(
        (m: WorkerMessage) => onMessage(slot, m),
        (e) => onDeath(slot, e),
      );
      return slot;
    };

    for (let w = 0; w < Math.min(ctx.pool.size, tensors.length); w++) assign(spawn());
  });
}
