/**
 * The row-wise and attention steps of the sensitivity pass encoded into a GpuOp: rotary, SwiGLU,
 * bias, row gathers (shaders/sens-rows.wgsl), causal GQA attention (sens-attention.wgsl) and the
 * streamed cross-entropy (sens-head.wgsl). CPU twins in src/infer/sens/ops.ts and head.ts.
 */
import type { AttentionShape } from '../ops';
import type { GpuOp } from '../../../gpu/op';
import type { Buf } from './context';
import type { SensRun } from './run';

type RowsEntry = 'rope' | 'swiglu_forward' | 'swiglu_backward' | 'bias_add' | 'gather_rows' | 'scatter_rows';

interface RowsArgs {
  n: number;
  width?: number;
  heads?: number;
  half?: number;
  sign?: number;
  a?: Buf;
  b?: Buf;
  c?: Buf;
  idx?: Buf;
  out: Buf;
  out2?: Buf;
}

function rows(r: SensRun, op: GpuOp, entry: RowsEntry, x: RowsArgs): void {
  op.dispatch('sens-rows', {
    entry,
    uniforms: { n: x.n, width: x.width ?? 1, heads: x.heads ?? 1, half: x.half ?? 1, sign: x.sign ?? 1 },
    bind: {
      a: x.a ?? r.none,
      b: x.b ?? r.none,
      c: x.c ?? r.none,
      idx: x.idx ?? r.none,
      out: x.out,
      out2: x.out2 ?? r.spare[0],
    },
    workgroups: Math.ceil(x.n / 256),
  });
}

/** Rotary on x [rows, heads, headDim] in place; `table` = [cos [rows, half], sin [rows, half]]; inverse: the backward. */
export function rope(
  r: SensRun,
  op: GpuOp,
  x: Buf,
  table: Buf,
  rowCount: number,
  heads: number,
  headDim: number,
  inverse = false,
) {
  const half = headDim / 2;
  rows(r, op, 'rope', { n: rowCount * heads * half, heads, half, sign: inverse ? -1 : 1, a: table, out: x });
}

export function swigluForward(r: SensRun, op: GpuOp, gate: Buf, up: Buf, m: Buf, n: number) {
  rows(r, op, 'swiglu_forward', { n, a: gate, b: up, out: m });
}

export function swigluBackward(r: SensRun, op: GpuOp, dm: Buf, gate: Buf, up: Buf, dGate: Buf, dUp: Buf, n: number) {
  rows(r, op, 'swiglu_backward', { n, a: gate, b: up, c: dm, out: dGate, out2: dUp });
}

export function biasAdd(r: SensRun, op: GpuOp, y: Buf, bias: Buf, rowCount: number, width: number) {
  rows(r, op, 'bias_add', { n: rowCount * width, width, a: bias, out: y });
}

/** out row j = x row idx[j]. */
export function gatherRows(r: SensRun, op: GpuOp, x: Buf, idx: Buf, out: Buf, count: number, width: number) {
  rows(r, op, 'gather_rows', { n: count * width, width, a: x, idx, out });
}

/** out row idx[j] = x row j (other rows of out untouched). */
export function scatterRows(r: SensRun, op: GpuOp, x: Buf, idx: Buf, out: Buf, count: number, width: number) {
  rows(r, op, 'scatter_rows', { n: count * width, width, a: x, idx, out });
}

const uniformsOf = (s: AttentionShape) => ({
  rows: s.rows,
  heads: s.heads,
  kvHeads: s.kvHeads,
  headDim: s.headDim,
  scale: 1 / Math.sqrt(s.headDim),
});

/** o [rows, heads·headDim] and stats[0 … rows·heads) = each row's log-sum-exp. */
export function attentionForward(r: SensRun, op: GpuOp, q: Buf, k: Buf, v: Buf, o: Buf, stats: Buf, s: AttentionShape) {
  op.dispatch('sens-attention', {
    entry: 'forward',
    uniforms: uniformsOf(s),
    bind: { q, k, v, dout: r.none, o, stats, dq: r.spare[0], dkv: r.spare[1] },
    workgroups: Math.ceil((s.rows * s.heads) / 64),
  });
}

/** dq, and dkv = [dk, dv] ([2, rows, kvHeads·headDim]), from dOut and the forward's o and stats. */
export function attentionBackward(
  r: SensRun,
  op: GpuOp,
  t: { q: Buf; k: Buf; v: Buf; o: Buf; stats: Buf; dout: Buf; dq: Buf; dkv: Buf },
  s: AttentionShape,
) {
  const bind = { q: t.q, k: t.k, v: t.v, dout: t.dout, o: t.o, stats: t.stats, dq: t.dq, dkv: t.dkv };
  const uniforms = uniformsOf(s);
  op.dispatch('sens-attention', {
    entry: 'backward_dq',
    uniforms,
    bind,
    workgroups: Math.ceil((s.rows * s.heads) / 64),
  });
  op.dispatch('sens-attention', {
    entry: 'backward_dkv',
    uniforms,
    bind,
    workgroups: Math.ceil((s.rows * s.kvHeads) / 64),
  });
}

interface HeadChunk {
  labels: Buf;
  stats: Buf;
  /** Logits of `width` vocabulary ids from `first` ([rows, width]); unused by lse_final. */
  z: Buf;
  rows: number;
  width: number;
  first: number;
}

/** One step of the streamed cross-entropy (sens-head.wgsl), one thread per row or per logit. */
function headStep(op: GpuOp, entry: 'lse_update' | 'lse_final' | 'dlogits', c: HeadChunk, perLogit: boolean) {
  op.dispatch('sens-head', {
    entry,
    uniforms: { rows: c.rows, width: c.width, first: c.first, scale: entry === 'dlogits' ? 1 / c.rows : 1 },
    bind: { labels: c.labels, z: c.z, stats: c.stats },
    workgroups: perLogit ? Math.ceil((c.rows * c.width) / 256) : Math.ceil(c.rows / 64),
  });
}

/** Folds one head chunk's logits z [rows, width] (vocabulary ids first …) into the running log-sum-exp. */
export function lseUpdate(op: GpuOp, z: Buf, labels: Buf, stats: Buf, rows: number, width: number, first: number) {
  headStep(op, 'lse_update', { labels, stats, z, rows, width, first }, false);
}

export function lseFinal(r: SensRun, op: GpuOp, labels: Buf, stats: Buf, rows: number) {
  headStep(op, 'lse_final', { labels, stats, z: r.spare[0], rows, width: 0, first: 0 }, false);
}

/** z ← dL/dz = (softmax(z) − onehot)/rows, in place. */
export function dLogits(op: GpuOp, z: Buf, labels: Buf, stats: Buf, rows: number, width: number, first: number) {
  headStep(op, 'dlogits', { labels, stats, z, rows, width, first }, true);
}
