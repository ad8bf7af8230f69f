/**
 * One decoder block on the GPU, the twin of src/infer/sens/block.ts: the forward keeps nothing but
 * its output; the backward recomputes the block from its input and folds each weight's gradient
 * into its sensitivity as soon as the gradient's inputs exist (sens-weight.wgsl, tile by tile).
 * Everything of one block is encoded into one GpuOp; its scratch buffers go back to the pool when
 * that op is submitted.
 */
import type { GpuOp } from '../../../gpu/op';
import type { ModelSpec } from '../../architecture';
import { type BlockWeights, blockTensorNames } from '../block';
import type { Buf } from './context';
import { inputGrad, linear, rmsNormBackward, rmsNormForward, vectorSensitivity, weightSensitivity } from './encode';
import { attentionBackward, attentionForward, biasAdd, rope, swigluBackward, swigluForward } from './encode-rows';
import type { SensRun } from './run';

type BiasName = 'qBias' | 'kBias' | 'vBias';
/** A block's weights on the GPU (f32). */
export type UploadedBlock = Record<Exclude<keyof BlockWeights, BiasName>, Buf> & Partial<Record<BiasName, Buf>>;

export function uploadBlock(r: SensRun, w: BlockWeights): UploadedBlock {
  const up = (x: Float32Array) => r.gpu.upload(x, 'sens:weight');
  return {
    norm1: up(w.norm1),
    q: up(w.q),
    k: up(w.k),
    v: up(w.v),
    ...(w.qBias && w.kBias && w.vBias ? { qBias: up(w.qBias), kBias: up(w.kBias), vBias: up(w.vBias) } : {}),
    o: up(w.o),
    norm2: up(w.norm2),
    gate: up(w.gate),
    up: up(w.up),
    down: up(w.down),
  };
}

export function releaseBlock(r: SensRun, w: UploadedBlock): void {
  r.gpu.release(...Object.values(w));
}

/** The rotary table [cos [rows, half], sin [rows, half]] and the block's shape. */
export interface BlockContext {
  readonly spec: ModelSpec;
  readonly rows: number;
  readonly rope: Buf;
}

interface Activations {
  n1: Buf;
  inv1: Buf;
  q: Buf;
  k: Buf;
  v: Buf;
  attn: Buf;
  stats: Buf;
  h: Buf;
  n2: Buf;
  inv2: Buf;
  gate: Buf;
  up: Buf;
  m: Buf;
}

function run(r: SensRun, op: GpuOp, c: BlockContext, w: UploadedBlock, x: Buf, out: Buf): Activations {
  const { spec: s, rows } = c;
  const d = s.hidden;
  const ff = s.intermediate;
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const t = (n: number, label: string) => r.gpu.temp(op, n, `sens:${label}`);
  const a: Activations = {
    n1: t(rows * d, 'n1'),
    inv1: t(rows, 'inv1'),
    q: t(rows * qDim, 'q'),
    k: t(rows * kvDim, 'k'),
    v: t(rows * kvDim, 'v'),
    attn: t(rows * qDim, 'attn'),
    stats: t(2 * rows * s.heads, 'attn-stats'),
    h: t(rows * d, 'h'),
    n2: t(rows * d, 'n2'),
    inv2: t(rows, 'inv2'),
    gate: t(rows * ff, 'gate'),
    up: t(rows * ff, 'up'),
    m: t(rows * ff, 'm'),
  };
  rmsNormForward(r, op, x, w.norm1, a.n1, a.inv1, rows, d, s.eps);
  linear(r, op, a.n1, w.q, a.q, rows, d, qDim);
  linear(r, op, a.n1, w.k, a.k, rows, d, kvDim);
  linear(r, op, a.n1, w.v, a.v, rows, d, kvDim);
  if (w.qBias && w.kBias && w.vBias) {
    biasAdd(r, op, a.q, w.qBias, rows, qDim);
    biasAdd(r, op, a.k, w.kBias, rows, kvDim);
    biasAdd(r, op, a.v, w.vBias, rows, kvDim);
  }
  rope(r, op, a.q, c.rope, rows, s.heads, s.headDim);
  rope(r, op, a.k, c.rope, rows, s.kvHeads, s.headDim);
  const shape = { rows, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim };
  attentionForward(r, op, a.q, a.k, a.v, a.attn, a.stats, shape);
  linear(r, op, a.attn, w.o, a.h, rows, qDim, d, x);
  rmsNormForward(r, op, a.h, w.norm2, a.n2, a.inv2, rows, d, s.eps);
  linear(r, op, a.n2, w.gate, a.gate, rows, d, ff);
  linear(r, op, a.n2, w.up, a.up, rows, d, ff);
  swigluForward(r, op, a.gate, a.up, a.m, rows * ff);
  linear(r, op, a.m, w.down, out, rows, ff, d, a.h);
  return a;
}

/** out = block(x), encoded into op. */
export function encodeBlockForward(r: SensRun, op: GpuOp, c: BlockContext, w: UploadedBlock, x: Buf, out: Buf): void {
  run(r, op, c, w, x, out);
}

/** Recomputes the block from x, then dx = dL/dx from dOut; every weight's sensitivity goes to r. */
export function encodeBlockBackward(
  r: SensRun,
  op: GpuOp,
  c: BlockContext,
  layer: number,
  w: UploadedBlock,
  x: Buf,
  dOut: Buf,
  dx: Buf,
): void {
  const { spec: s, rows } = c;
  const d = s.hidden;
  const ff = s.intermediate;
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const names = blockTensorNames(layer);
  const t = (n: number, label: string) => r.gpu.temp(op, n, `sens:${label}`);
  const a = run(r, op, c, w, x, t(rows * d, 'out'));
  const sens = (name: string, dy: Buf, input: Buf, weight: Buf, inDim: number, outDim: number) =>
    weightSensitivity(r, op, name, { dy, x: input, w: weight, rows, inDim, outDim });

  // MLP: out = h + down(silu(gate(n2)) · up(n2))
  sens(names.down, dOut, a.m, w.down, ff, d);
  const dm = t(rows * ff, 'dm');
  inputGrad(r, op, dOut, w.down, dm, rows, ff, d);
  const dGate = t(rows * ff, 'dgate');
  const dUp = t(rows * ff, 'dup');
  swigluBackward(r, op, dm, a.gate, a.up, dGate, dUp, rows * ff);
  sens(names.gate, dGate, a.n2, w.gate, d, ff);
  sens(names.up, dUp, a.n2, w.up, d, ff);
  const dn2a = t(rows * d, 'dn2a');
  const dn2 = t(rows * d, 'dn2');
  inputGrad(r, op, dGate, w.gate, dn2a, rows, d, ff);
  inputGrad(r, op, dUp, w.up, dn2, rows, d, ff, dn2a);
  const dh = t(rows * d, 'dh');
  rmsNormBackward(r, op, names.norm2, { dy: dn2, x: a.h, w: w.norm2, inv: a.inv2, dx: dh, res: dOut }, rows, d);

  // Attention: h = x + o(attn)
  sens(names.o, dh, a.attn, w.o, qDim, d);
  const dAttn = t(rows * qDim, 'dattn');
  inputGrad(r, op, dh, w.o, dAttn, rows, qDim, d);
  const dq = t(rows * qDim, 'dq');
  const dkv = t(2 * rows * kvDim, 'dkv');
  const shape = { rows, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim };
  attentionBackward(r, op, { q: a.q, k: a.k, v: a.v, o: a.attn, stats: a.stats, dout: dAttn, dq, dkv }, shape);
  const dv = t(rows * kvDim, 'dv');
  op.enc.copyBufferToBuffer(dkv.buffer, rows * kvDim * 4, dv.buffer, 0, rows * kvDim * 4);
  rope(r, op, dq, c.rope, rows, s.heads, s.headDim, true);
  rope(r, op, dkv, c.rope, rows, s.kvHeads, s.headDim, true);
  sens(names.q, dq, a.n1, w.q, d, qDim);
  sens(names.k, dkv, a.n1, w.k, d, kvDim);
  sens(names.v, dv, a.n1, w.v, d, kvDim);
  if (w.qBias && w.kBias && w.vBias) {
    vectorSensitivity(r, op, names.qBias, { a: dq, theta: w.qBias, rows, width: qDim });
    vectorSensitivity(r, op, names.kBias, { a: dkv, theta: w.kBias, rows, width: kvDim });
    vectorSensitivity(r, op, names.vBias, { a: dv, theta: w.vBias, rows, width: kvDim });
  }
  const dn1a = t(rows * d, 'dn1a');
  const dn1b = t(rows * d, 'dn1b');
  const dn1 = t(rows * d, 'dn1');
  inputGrad(r, op, dq, w.q, dn1a, rows, d, qDim);
  inputGrad(r, op, dkv, w.k, dn1b, rows, d, kvDim, dn1a);
  inputGrad(r, op, dv, w.v, dn1, rows, d, kvDim, dn1b);
  rmsNormBackward(r, op, names.norm1, { dy: dn1, x, w: w.norm1, inv: a.inv1, dx, res: dh }, rows, d);
}
