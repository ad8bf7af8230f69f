/**
 * The sensitivity pass of one model on one calibration sample: forward through the decoder keeping
 * only each block's input, the streamed head and cross-entropy on the chosen target tokens, then
 * backward block by block (each recomputed from its input), the embeddings last. Every weight's
 * Σ|θ⊙g| and Σθ⊙g are produced as soon as its gradient exists; no parameter gradient is stored.
 * Memory: the block inputs of one sequence, one block's weights and one head chunk.
 */
import { throwIfAborted } from '../../core/errors';
import { ropeInvFreq } from '../architecture';
import { InferError } from '../errors';
import { type ProbeLookup, type Rope, blockBackward, blockForward, loadBlock } from './block';
import { type LossRows, gatherRows, headBackward, headLoss } from './head';
import {
  type GradientProbe,
  type Mat,
  type TensorSensitivity,
  foldGradientRow,
  ropeTables,
  rmsNormBackward,
  rmsNormForward,
} from './ops';
import type { SensWeights } from './weights';

/** A calibration sample: token ids, and the token indices k ≥ 1 whose ids[k] enter the loss (predicted at k − 1). */
export interface SensSample {
  readonly ids: readonly number[];
  readonly targets: readonly number[];
}

export interface PassOptions {
  /** Flat indices per tensor name whose raw gradient values are wanted (the parity check). */
  probes?: ReadonlyMap<string, readonly number[]>;
  signal?: AbortSignal;
  /** Called after each backward block (done, total = layers). */
  onBlock?: (done: number, total: number) => void;
}

export interface PassResult {
  /** Mean cross-entropy over the target tokens. */
  loss: number;
  /** Per tensor: Σ|θ⊙g| and Σθ⊙g (a tied head is counted once, under the embedding's name). */
  tensors: Map<string, TensorSensitivity>;
  /** Raw gradient values at the probed indices. */
  gradients: Map<string, number[]>;
}

/** Refuses ids outside the vocabulary and a sample without usable targets (shared by the WebGPU pass). */
export function checkSample(weights: SensWeights, s: SensSample): void {
  const V = weights.spec.vocab;
  const bad = s.ids.find((t) => !Number.isInteger(t) || t < 0 || t >= V);
  if (bad !== undefined)
    throw new InferError('bad-options', `${weights.name}: token id ${bad} is outside the vocabulary (${V})`);
  if (s.targets.length === 0)
    throw new InferError('bad-options', `${weights.name}: the sample has no target tokens to take the loss on`);
  const badTarget = s.targets.find((k) => !Number.isInteger(k) || k < 1 || k >= s.ids.length);
  if (badTarget !== undefined)
    throw new InferError('bad-options', `target index ${badTarget} is outside 1..${s.ids.length - 1}`);
}

async function embed(weights: SensWeights, ids: readonly number[]): Promise<Mat> {
  const { hidden: d, vocab: V } = weights.spec;
  const x = new Float64Array(ids.length * d);
  for (const [t, id] of ids.entries())
    x.set(await weights.rows('model.embed_tokens.weight', [V, d], id, id + 1), t * d);
  return x;
}

function rope(weights: SensWeights, rows: number): Rope {
  return ropeTables(ropeInvFreq(weights.spec), rows);
}

/** Forward only: every block's input, and the final RMSNorm's input and output. */
async function forward(weights: SensWeights, ids: readonly number[], signal?: AbortSignal) {
  const s = weights.spec;
  const n = ids.length;
  const r = rope(weights, n);
  const inputs: Mat[] = [];
  let x = await embed(weights, ids);
  for (let l = 0; l < s.layers; l++) {
    throwIfAborted(signal, 'sensitivity pass');
    inputs.push(x);
    x = blockForward(s, await loadBlock(weights, l), x, n, r);
  }
  const normW = await weights.tensor('model.norm.weight', [s.hidden]);
  return { inputs, last: x, normW, norm: rmsNormForward(x, normW, n, s.hidden, s.eps), rope: r };
}

/** The final-normed hidden states of every position (the head's input), for logit distances. */
export async function finalHidden(weights: SensWeights, ids: readonly number[], signal?: AbortSignal): Promise<Mat> {
  return (await forward(weights, ids, signal)).norm.y;
}

export async function sensitivityPass(
  weights: SensWeights,
  sample: SensSample,
  opts: PassOptions = {},
): Promise<PassResult> {
  checkSample(weights, sample);
  const s = weights.spec;
  const d = s.hidden;
  const n = sample.ids.length;
  const { signal } = opts;
  const tensors = new Map<string, TensorSensitivity>();
  const sink = (name: string, sens: TensorSensitivity) => {
    const acc = tensors.get(name) ?? { abs: 0, signed: 0 };
    tensors.set(name, { abs: acc.abs + sens.abs, signed: acc.signed + sens.signed });
  };
  const probes = new Map<string, GradientProbe>();
  for (const [name, indices] of opts.probes ?? []) probes.set(name, { indices, values: indices.map(() => 0) });
  const probe: ProbeLookup = (name) => probes.get(name);

  const fw = await forward(weights, sample.ids, signal);
  const rows: LossRows = {
    positions: sample.targets.map((k) => k - 1),
    labels: sample.targets.map((k) => sample.ids[k]!),
  };
  const hs = gatherRows(fw.norm.y, d, rows.positions);
  const { lse, loss } = await headLoss(weights, hs, rows, signal);
  const idSet = new Set(sample.ids);
  const { dHs, kept } = await headBackward(weights, hs, rows, lse, sink, probe, s.tied ? idSet : new Set(), signal);

  const dNorm = new Float64Array(n * d);
  rows.positions.forEach((p, j) => {
    for (let i = 0; i < d; i++) dNorm[p * d + i] = dNorm[p * d + i]! + dHs[j * d + i]!;
  });
  const fin = rmsNormBackward(dNorm, fw.last, fw.normW, fw.norm.inv, n, d, probe('model.norm.weight'));
  sink('model.norm.weight', fin.sens);
  let dx = fin.dx;
  for (let l = s.layers - 1; l >= 0; l--) {
    throwIfAborted(signal, 'sensitivity pass');
    dx = blockBackward(s, l, await loadBlock(weights, l), fw.inputs[l]!, dx, n, fw.rope, sink, probe);
    fw.inputs[l] = new Float64Array(0);
    opts.onBlock?.(s.layers - l, s.layers);
  }
  await embeddingSensitivity(weights, sample.ids, dx, kept, sink, probe('model.embed_tokens.weight'));
  return { loss, tensors, gradients: new Map([...probes].map(([k, p]) => [k, p.values])) };
}

/** The embedding rows used by the sample: g[v] = Σ_{t: ids[t]=v} dx[t] (+ the tied head's part). */
async function embeddingSensitivity(
  weights: SensWeights,
  ids: readonly number[],
  dx: Mat,
  kept: Map<number, Float64Array>,
  sink: (name: string, sens: TensorSensitivity) => void,
  probe: GradientProbe | undefined,
): Promise<void> {
  const { hidden: d, vocab: V } = weights.spec;
  const grads = new Map<number, Float64Array>(kept);
  for (const [t, id] of ids.entries()) {
    const g = grads.get(id) ?? new Float64Array(d);
    for (let i = 0; i < d; i++) g[i] = g[i]! + dx[t * d + i]!;
    grads.set(id, g);
  }
  const acc = { abs: 0, signed: 0 };
  for (const [id, g] of grads) {
    const row = await weights.rows('model.embed_tokens.weight', [V, d], id, id + 1);
    foldGradientRow(acc, row, 0, g, id * d, probe);
  }
  sink('model.embed_tokens.weight', acc);
}
