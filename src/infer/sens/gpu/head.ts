/**
 * The head and the next-token cross-entropy on the GPU, the twin of src/infer/sens/head.ts:
 * streamed over vocabulary chunks (one chunk's head rows uploaded at a time), a first pass for each
 * loss row's log-sum-exp, a second that recomputes each chunk's logits, turns them into dL/dz,
 * accumulates dL/dH and folds the chunk's head gradient into its sensitivity tile by tile. For a
 * tied head, the rows of the sample's own tokens are written out whole instead (the embedding adds
 * its part to them before the fold).
 */
import { throwIfAborted } from '../../../core/errors';
import type { LossRows } from '../head';
import type { SensWeights } from '../weights';
import type { Buf } from './context';
import { inputGrad, linear, weightSensitivity } from './encode';
import { dLogits, lseFinal, lseUpdate } from './encode-rows';
import type { SensRun } from './run';

/** Head weights uploaded per chunk: at most this many bytes (and the chunk's logits within a binding). */
const CHUNK_BYTES = 32 << 20;

async function forEachChunk(
  r: SensRun,
  weights: SensWeights,
  rows: number,
  visit: (w: Buf, first: number, count: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const { hidden: d, vocab: V } = weights.spec;
  const bytes = Math.min(CHUNK_BYTES, r.gpu.maxBindingBytes);
  const step = Math.max(1, Math.min(V, Math.floor(bytes / (4 * d)), Math.floor(bytes / (4 * rows))));
  for (let first = 0; first < V; first += step) {
    throwIfAborted(signal, 'sensitivity pass');
    const count = Math.min(step, V - first);
    const w = r.gpu.upload(await weights.rows(weights.headName, [V, d], first, first + count), 'sens:head');
    await visit(w, first, count);
    r.gpu.release(w);
  }
}

/** The loss rows' running statistics ([5, rows], sens-head.wgsl) after the whole vocabulary. */
export async function headLoss(
  r: SensRun,
  weights: SensWeights,
  hs: Buf,
  labels: Buf,
  rows: number,
  signal?: AbortSignal,
): Promise<Buf> {
  const d = weights.spec.hidden;
  const init = new Float32Array(5 * rows);
  init.fill(-3e38, 0, rows);
  const stats = r.gpu.upload(init, 'sens:lse');
  await forEachChunk(
    r,
    weights,
    rows,
    async (w, first, count) => {
      const op = r.gpu.ctx.begin('sens:head-loss');
      const z = r.gpu.temp(op, rows * count, 'sens:logits');
      linear(r, op, hs, w, z, rows, d, count);
      lseUpdate(op, z, labels, stats, rows, count, first);
      await r.gpu.submit(op);
    },
    signal,
  );
  const op = r.gpu.ctx.begin('sens:lse');
  lseFinal(r, op, labels, stats, rows);
  await r.gpu.submit(op);
  return stats;
}

export interface TiedHead {
  /** u32 per vocabulary row: 1 for the sample's own tokens. */
  readonly mask: Buf;
  /** Vocabulary id → row of `grad`. */
  readonly row: ReadonlyMap<number, number>;
  /** [used ids, hidden]: receives those rows of the head's gradient. */
  readonly grad: Buf;
}

/** dL/dH of the loss rows ([rows, hidden], a new buffer); the head's sensitivity goes to r. */
export async function headBackward(
  r: SensRun,
  weights: SensWeights,
  t: { hs: Buf; labels: Buf; stats: Buf; rows: number; tied?: TiedHead },
  signal?: AbortSignal,
): Promise<Buf> {
  const d = weights.spec.hidden;
  const { hs, labels, stats, rows, tied } = t;
  let dHs: Buf | undefined;
  await forEachChunk(
    r,
    weights,
    rows,
    async (w, first, count) => {
      const op = r.gpu.ctx.begin('sens:head-backward');
      const dz = r.gpu.temp(op, rows * count, 'sens:dlogits');
      linear(r, op, hs, w, dz, rows, d, count);
      dLogits(op, dz, labels, stats, rows, count, first);
      const next = r.gpu.alloc(rows * d, 'sens:dhs');
      inputGrad(r, op, dz, w, next, rows, d, count, dHs);
      const kept = tied
        ? [...tied.row].filter(([id]) => id >= first && id < first + count).map(([id, u]) => [id - first, u] as const)
        : [];
      weightSensitivity(r, op, weights.headName, {
        dy: dz,
        x: hs,
        w,
        rows,
        inDim: d,
        outDim: count,
        flatOffset: first * d,
        ...(tied
          ? {
              mask: { buf: tied.mask, base: first, has: (row: number) => tied.row.has(first + row) },
              keep: { rows: kept, out: tied.grad },
            }
          : {}),
      });
      await r.gpu.submit(op);
      r.gpu.release(dHs);
      dHs = next;
    },
    signal,
  );
  return dHs!;
}

export type { LossRows };
