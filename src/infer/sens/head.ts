/**
 * The head and the next-token cross-entropy, streamed over vocabulary chunks so that neither the
 * [positions, vocab] logits nor the head's gradient ever exist whole: one pass finds each target
 * position's log-sum-exp, a second recomputes each chunk's logits, turns them into dL/dz, and
 * from it both dL/dH and the head rows' gradients (folded into the sensitivity at once, or kept
 * for the few rows a tied embedding still has to add its own gradient to).
 */
import type { Mat } from './ops';
import { foldGradientRow } from './ops';
import { rowDots, transpose } from './dots';
import type { ProbeLookup, SensitivitySink } from './block';
import type { SensWeights } from './weights';
import { InferError } from '../errors';
import { throwIfAborted } from '../../core/errors';

/** Loss rows: row r of H (position) predicts `labels[r]`. */
export interface LossRows {
  readonly positions: readonly number[];
  readonly labels: readonly number[];
}

/** Head rows per chunk: about 1M weights at a time. */
const chunkRows = (hidden: number, vocab: number) => Math.max(1, Math.min(vocab, Math.floor((1 << 20) / hidden)));

/** Gathers rows of a [rows, dim] matrix. */
export function gatherRows(x: Mat, dim: number, rows: readonly number[]): Mat {
  const out = new Float64Array(rows.length * dim);
  rows.forEach((r, j) => out.set(x.subarray(r * dim, (r + 1) * dim), j * dim));
  return out;
}

/** Z[j, c] = H[j]·W[c] for one chunk of head rows. */
function chunkLogits(h: Mat, m: number, w: Float32Array, c: number, d: number): Mat {
  return rowDots(h, m, w, c, d);
}

async function forEachChunk(
  weights: SensWeights,
  visit: (w: Float32Array, from: number, count: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const { hidden: d, vocab: V } = weights.spec;
  const step = chunkRows(d, V);
  for (let from = 0; from < V; from += step) {
    throwIfAborted(signal, 'sensitivity pass');
    const count = Math.min(step, V - from);
    visit(await weights.rows(weights.headName, [V, d], from, from + count), from, count);
  }
}

/** Log-sum-exp of each loss row's logits, and the mean cross-entropy. */
export async function headLoss(
  weights: SensWeights,
  hs: Mat,
  rows: LossRows,
  signal?: AbortSignal,
): Promise<{ lse: Mat; loss: number }> {
  const d = weights.spec.hidden;
  const m = rows.labels.length;
  const max = new Float64Array(m).fill(-Infinity);
  const sum = new Float64Array(m);
  const picked = new Float64Array(m);
  await forEachChunk(
    weights,
    (w, from, c) => {
      const z = chunkLogits(hs, m, w, c, d);
      for (let j = 0; j < m; j++) {
        let cm = max[j]!;
        for (let r = 0; r < c; r++) cm = Math.max(cm, z[j * c + r]!);
        let s = sum[j]! * Math.exp(max[j]! - cm);
        for (let r = 0; r < c; r++) s += Math.exp(z[j * c + r]! - cm);
        max[j] = cm;
        sum[j] = s;
        const y = rows.labels[j]! - from;
        if (y >= 0 && y < c) picked[j] = z[j * c + y]!;
      }
    },
    signal,
  );
  const lse = max.map((mx, j) => mx + Math.log(sum[j]!));
  let loss = 0;
  for (let j = 0; j < m; j++) loss += lse[j]! - picked[j]!;
  return { lse, loss: loss / m };
}

/**
 * dL/dH for the loss rows, the head's sensitivity (sunk under the head's name), and the gradient
 * rows listed in `keep`, returned instead of folded (a tied embedding adds its part to them).
 */
export async function headBackward(
  weights: SensWeights,
  hs: Mat,
  rows: LossRows,
  lse: Mat,
  sink: SensitivitySink,
  probe: ProbeLookup,
  keep: ReadonlySet<number>,
  signal?: AbortSignal,
): Promise<{ dHs: Mat; kept: Map<number, Float64Array> }> {
  const d = weights.spec.hidden;
  const m = rows.labels.length;
  const dHs = new Float64Array(m * d);
  const kept = new Map<number, Float64Array>();
  const acc = { abs: 0, signed: 0 };
  const name = weights.headName;
  const headProbe = probe(name);
  const hsT = transpose(hs, m, d);
  await forEachChunk(
    weights,
    (w, from, c) => {
      const dz = chunkLogits(hs, m, w, c, d);
      for (let j = 0; j < m; j++)
        for (let r = 0; r < c; r++) {
          const p = Math.exp(dz[j * c + r]! - lse[j]!);
          dz[j * c + r] = (p - (rows.labels[j] === from + r ? 1 : 0)) / m;
        }
      const dh = rowDots(dz, m, transpose(w, c, d), d, c);
      for (let k = 0; k < dHs.length; k++) dHs[k] = dHs[k]! + dh[k]!;
      const g = rowDots(transpose(dz, m, c), c, hsT, d, m);
      for (let r = 0; r < c; r++) {
        const row = g.subarray(r * d, (r + 1) * d);
        if (keep.has(from + r)) kept.set(from + r, row.slice());
        else foldGradientRow(acc, w, r * d, row, (from + r) * d, headProbe);
      }
    },
    signal,
  );
  sink(name, acc);
  return { dHs, kept };
}

/**
 * Mean over rows of ‖z_A − z_B‖₂, the per-position L2 distance between two models' logits, from
 * their final hidden states at the same positions (same token ids), streamed over vocab chunks.
 */
export async function logitDistance(
  a: SensWeights,
  ha: Mat,
  b: SensWeights,
  hb: Mat,
  rows: number,
  signal?: AbortSignal,
): Promise<number> {
  const { hidden: d, vocab: V } = a.spec;
  if (b.spec.vocab !== V || b.spec.hidden !== d)
    throw new InferError(
      'weight-shape',
      `${a.name} and ${b.name} differ in vocabulary or hidden size; their logits cannot be compared`,
    );
  const sq = new Float64Array(rows);
  const step = chunkRows(d, V);
  for (let from = 0; from < V; from += step) {
    throwIfAborted(signal, 'sensitivity pass');
    const c = Math.min(step, V - from);
    const za = chunkLogits(ha, rows, await a.rows(a.headName, [V, d], from, from + c), c, d);
    const zb = chunkLogits(hb, rows, await b.rows(b.headName, [V, d], from, from + c), c, d);
    for (let j = 0; j < rows; j++) for (let r = 0; r < c; r++) sq[j] = sq[j]! + (za[j * c + r]! - zb[j * c + r]!) ** 2;
  }
  let sum = 0;
  for (let j = 0; j < rows; j++) sum += Math.sqrt(sq[j]!);
  return sum / rows;
}
