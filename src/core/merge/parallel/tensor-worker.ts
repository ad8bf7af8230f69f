/**
 * The worker side of a parallel merge: receives tensor tasks and merges each with the shared
 * method code (run-method.ts) on its own CPU backend, through the same ChunkedTensorJob the
 * single-threaded merge uses. Input bytes come from the main side on request; output chunks go
 * back in order, each waiting for its `ack`, so a worker holds at most one tensor's few chunks.
 */
import type { CheckpointTensor } from '../../formats/checkpoint';
import type { TensorBackend } from '../backend';
import { ChunkReader } from '../chunk-reader';
import { CpuBackend } from '../cpu-backend';
import { FastCpuBackend } from '../fast/fast-cpu-backend';
import { ChunkedTensorJob } from '../job';
import { METHODS } from '../methods/registry';
import type { TensorPlan } from '../plan';
import { runMethod } from './run-method';
import {
  type MainMessage,
  type TensorTask,
  type WorkerBackendKind,
  type WorkerPort,
  errorRecord,
  transferable,
} from './protocol';

/** Serves tensor tasks on `port` until the main side closes it. */
export function serveTensorWorker(port: WorkerPort): void {
  const pending = new Map<number, (m: MainMessage) => void>();
  const backends = new Map<WorkerBackendKind, TensorBackend<unknown>>();
  /** Shared input buffers, handed back to the main side once merged (to read into again). */
  const shared = new WeakSet<ArrayBufferLike>();
  const handBack = (buffer: ArrayBufferLike) => {
    if (shared.delete(buffer)) port.post({ type: 'recycle', buffer: buffer as SharedArrayBuffer });
  };
  let fastBackend: FastCpuBackend | undefined;
  let nextReq = 0;
  const request = <M extends MainMessage>(send: (req: number) => void): Promise<M> =>
    new Promise((resolve) => {
      const req = nextReq++;
      pending.set(req, resolve as (m: MainMessage) => void);
      send(req);
    });

  const backendFor = (kind: WorkerBackendKind) => {
    let be = backends.get(kind);
    if (!be) {
      const fast = kind === 'cpu' ? new FastCpuBackend() : undefined;
      if (fast) fast.onBytesFree = handBack;
      fastBackend ??= fast;
      backends.set(kind, (be = (fast ?? new CpuBackend()) as TensorBackend<unknown>));
    }
    return be;
  };

  /** The task's plan with each input's file replaced by reads through the main side. */
  const planOf = (task: TensorTask): TensorPlan => ({
    ...task.tensor,
    inputs: task.tensor.inputs.map((inp, i) => ({
      ...inp,
      tensor: {
        name: inp.tensorName,
        dtype: inp.dtype,
        file: {
          readRange: async (_name: string, start: number, count: number) => {
            const reply = await request<Extract<MainMessage, { type: 'bytes' }>>((req) =>
              port.post({ type: 'read', id: task.id, req, input: i, start, count }),
            );
            if (reply.shared) shared.add(reply.bytes.buffer);
            return reply.bytes;
          },
        },
      } as unknown as CheckpointTensor,
    })),
  });

  async function run(task: TensorTask): Promise<void> {
    const tensor = planOf(task);
    const job = new ChunkedTensorJob({
      tensor,
      index: 0,
      backend: backendFor(task.backend),
      reader: new ChunkReader([tensor], task.chunkElements),
      chunkElements: task.chunkElements,
      seed: task.seed,
      diagnose: task.diagnose,
      onSpectrum: task.spectrum ? (spectrum) => port.post({ type: 'spectrum', id: task.id, spectrum }) : undefined,
      onRead: (bytes) => port.post({ type: 'counted', id: task.id, bytes }),
      onChunkOut: async (out) => {
        const { bytes, buffer } = transferable(out);
        await request((req) => port.post({ type: 'chunk', id: task.id, req, bytes }, [buffer]));
      },
    });
    try {
      await runMethod(job, METHODS[task.method]);
      port.post({ type: 'done', id: task.id, diagnostics: job.diagnostics });
    } catch (e) {
      port.post({ type: 'failed', id: task.id, error: errorRecord(e) });
    } finally {
      job.dispose();
    }
  }

  port.listen((m: MainMessage) => {
    if (m.type === 'task') void run(m.task);
    else if (m.type === 'written') fastBackend?.reuseOutput(m.buffer);
    else {
      const resolve = pending.get(m.req);
      pending.delete(m.req);
      resolve?.(m);
    }
  });
}
