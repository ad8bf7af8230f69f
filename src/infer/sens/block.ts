/**
 * One decoder block (Qwen2 / Llama): x → x + o(attn(rope(q), rope(k), v)(norm1 x)) → h + down(swiglu(norm2 h)).
 * `blockForward` keeps nothing; `blockBackward` recomputes the block from its input (the only
 * activation kept per layer) and then runs backward, folding each weight's gradient into its
 * sensitivity as soon as the gradient exists.
 */
import type { ModelSpec } from '../architecture';
import {
  type GradientProbe,
  type Mat,
  type TensorSensitivity,
  addInPlace,
  applyRope,
  attentionBackward,
  attentionForward,
  biasSensitivity,
  linearBackwardInput,
  linearForward,
  linearWeightSensitivity,
  rmsNormBackward,
  rmsNormForward,
  swigluBackward,
  swigluForward,
} from './ops';
import type { SensWeights } from './weights';

type W = Float32Array;

export interface BlockWeights {
  norm1: W;
  q: W;
  k: W;
  v: W;
  qBias?: W;
  kBias?: W;
  vBias?: W;
  o: W;
  norm2: W;
  gate: W;
  up: W;
  down: W;
}

/** The checkpoint name of each block weight. */
export function blockTensorNames(layer: number): Record<keyof BlockWeights, string> {
  const p = `model.layers.${layer}`;
  return {
    norm1: `${p}.input_layernorm.weight`,
    q: `${p}.self_attn.q_proj.weight`,
    k: `${p}.self_attn.k_proj.weight`,
    v: `${p}.self_attn.v_proj.weight`,
    qBias: `${p}.self_attn.q_proj.bias`,
    kBias: `${p}.self_attn.k_proj.bias`,
    vBias: `${p}.self_attn.v_proj.bias`,
    o: `${p}.self_attn.o_proj.weight`,
    norm2: `${p}.post_attention_layernorm.weight`,
    gate: `${p}.mlp.gate_proj.weight`,
    up: `${p}.mlp.up_proj.weight`,
    down: `${p}.mlp.down_proj.weight`,
  };
}

export async function loadBlock(weights: SensWeights, layer: number): Promise<BlockWeights> {
  const s = weights.spec;
  const n = blockTensorNames(layer);
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const t = (name: string, shape: number[]) => weights.tensor(name, shape);
  return {
    norm1: await t(n.norm1, [s.hidden]),
    q: await t(n.q, [qDim, s.hidden]),
    k: await t(n.k, [kvDim, s.hidden]),
    v: await t(n.v, [kvDim, s.hidden]),
    ...(s.qkvBias
      ? { qBias: await t(n.qBias, [qDim]), kBias: await t(n.kBias, [kvDim]), vBias: await t(n.vBias, [kvDim]) }
      : {}),
    o: await t(n.o, [s.hidden, qDim]),
    norm2: await t(n.norm2, [s.hidden]),
    gate: await t(n.gate, [s.intermediate, s.hidden]),
    up: await t(n.up, [s.intermediate, s.hidden]),
    down: await t(n.down, [s.hidden, s.intermediate]),
  };
}

export interface Rope {
  cos: Mat;
  sin: Mat;
}

/** Every intermediate of one block on one sequence. */
interface BlockActivations {
  n1: { y: Mat; inv: Mat };
  q: Mat;
  k: Mat;
  v: Mat;
  attn: Mat;
  h: Mat;
  n2: { y: Mat; inv: Mat };
  gate: Mat;
  up: Mat;
  m: Mat;
  out: Mat;
}

function run(s: ModelSpec, w: BlockWeights, x: Mat, rows: number, rope: Rope): BlockActivations {
  const d = s.hidden;
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const n1 = rmsNormForward(x, w.norm1, rows, d, s.eps);
  const q = linearForward(n1.y, w.q, rows, d, qDim, w.qBias);
  const k = linearForward(n1.y, w.k, rows, d, kvDim, w.kBias);
  const v = linearForward(n1.y, w.v, rows, d, kvDim, w.vBias);
  applyRope(q, rows, s.heads, s.headDim, rope.cos, rope.sin);
  applyRope(k, rows, s.kvHeads, s.headDim, rope.cos, rope.sin);
  const attn = attentionForward(q, k, v, { rows, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim });
  const h = addInPlace(linearForward(attn, w.o, rows, qDim, d), x);
  const n2 = rmsNormForward(h, w.norm2, rows, d, s.eps);
  const gate = linearForward(n2.y, w.gate, rows, d, s.intermediate);
  const up = linearForward(n2.y, w.up, rows, d, s.intermediate);
  const m = swigluForward(gate, up);
  const out = addInPlace(linearForward(m, w.down, rows, s.intermediate, d), h);
  return { n1, q, k, v, attn, h, n2, gate, up, m, out };
}

export function blockForward(s: ModelSpec, w: BlockWeights, x: Mat, rows: number, rope: Rope): Mat {
  return run(s, w, x, rows, rope).out;
}

export type SensitivitySink = (name: string, sens: TensorSensitivity) => void;
export type ProbeLookup = (name: string) => GradientProbe | undefined;

/** Recomputes the block from its input `x`, then returns dL/dx given dL/d(out). */
export function blockBackward(
  s: ModelSpec,
  layer: number,
  w: BlockWeights,
  x: Mat,
  dOut: Mat,
  rows: number,
  rope: Rope,
  sink: SensitivitySink,
  probe: ProbeLookup,
): Mat {
  const a = run(s, w, x, rows, rope);
  const names = blockTensorNames(layer);
  const d = s.hidden;
  const ff = s.intermediate;
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const weightSens = (key: keyof BlockWeights, dy: Mat, input: Mat, inDim: number, outDim: number) =>
    sink(names[key], linearWeightSensitivity(dy, input, w[key]!, rows, inDim, outDim, probe(names[key])));

  // MLP: out = h + down(silu(gate(n2)) · up(n2))
  weightSens('down', dOut, a.m, ff, d);
  const dm = linearBackwardInput(dOut, w.down, rows, ff, d);
  const { dGate, dUp } = swigluBackward(dm, a.gate, a.up);
  weightSens('gate', dGate, a.n2.y, d, ff);
  weightSens('up', dUp, a.n2.y, d, ff);
  const dn2 = addInPlace(linearBackwardInput(dGate, w.gate, rows, d, ff), linearBackwardInput(dUp, w.up, rows, d, ff));
  const norm2 = rmsNormBackward(dn2, a.h, w.norm2, a.n2.inv, rows, d, probe(names.norm2));
  sink(names.norm2, norm2.sens);
  const dh = addInPlace(norm2.dx, dOut);

  // Attention: h = x + o(attn)
  weightSens('o', dh, a.attn, qDim, d);
  const dAttn = linearBackwardInput(dh, w.o, rows, qDim, d);
  const shape = { rows, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim };
  const { dq, dk, dv } = attentionBackward(dAttn, a.q, a.k, a.v, shape);
  applyRope(dq, rows, s.heads, s.headDim, rope.cos, rope.sin, true);
  applyRope(dk, rows, s.kvHeads, s.headDim, rope.cos, rope.sin, true);
  weightSens('q', dq, a.n1.y, d, qDim);
  weightSens('k', dk, a.n1.y, d, kvDim);
  weightSens('v', dv, a.n1.y, d, kvDim);
  if (w.qBias && w.kBias && w.vBias) {
    sink(names.qBias, biasSensitivity(dq, w.qBias, rows, qDim, probe(names.qBias)));
    sink(names.kBias, biasSensitivity(dk, w.kBias, rows, kvDim, probe(names.kBias)));
    sink(names.vBias, biasSensitivity(dv, w.vBias, rows, kvDim, probe(names.vBias)));
  }
  const dn1 = linearBackwardInput(dq, w.q, rows, d, qDim);
  addInPlace(dn1, linearBackwardInput(dk, w.k, rows, d, kvDim));
  addInPlace(dn1, linearBackwardInput(dv, w.v, rows, d, kvDim));
  const norm1 = rmsNormBackward(dn1, x, w.norm1, a.n1.inv, rows, d, probe(names.norm1));
  sink(names.norm1, norm1.sens);
  return addInPlace(norm1.dx, dh);
}
