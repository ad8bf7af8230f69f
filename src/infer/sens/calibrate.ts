/**
 * Sens-Merging calibration of one model: each calibration example is chat-templated, tokenised
 * once, differentiated by a backward pass (the CPU twin, or the WebGPU one; batch 1, abs per
 * sample, mean over samples), and optionally compared with other models' logits on the same
 * token ids (the cross-task distances). The result is the statistics file of src/core/sens/stats.ts, with its samples and readings.
 */
import { throwIfAborted } from '../../core/errors';
import { Checkpoint } from '../../core/formats/checkpoint';
import type { ModelFolder } from '../../core/io/byte-source';
import {
  type AnswerLength,
  type CalibrationExample,
  CalibrationTextError,
  type TextSource,
} from '../../core/sens/calibration-text';
import { SENS_STATS_FORMAT, type SensStats, type SensValue, sensGroup } from '../../core/sens/stats';
import { ChatTokenizer } from '../tokenizer';
import { type SensSample, finalHidden, sensitivityPass } from './pass';
import { logitDistance } from './head';
import { SensWeights } from './weights';

export interface SensCalibrationOptions {
  text: TextSource;
  answers: AnswerLength;
  seed: number;
  /** Tokens kept per sample (null: all). */
  maxTokens: number | null;
  /** `all` (default): every token after the first; `answer`: the answer's tokens only. */
  lossOn?: 'all' | 'answer';
  /** Other models whose logit distance to this one, on these samples, is recorded. */
  compare?: readonly ModelFolder[];
  signal?: AbortSignal;
  /** Progress over the samples' backward passes, then the comparisons. */
  onProgress?: (done: number, total: number, phase: 'gradients' | 'distances') => void;
  /** The backward pass (default: the CPU twin) and how its numbers are made, for the readings. */
  backend?: SensBackendPass;
}

/** A backward pass with the sensitivityPass signature (the WebGPU one: src/infer/sens/gpu/pass.ts). */
export interface SensBackendPass {
  readonly pass: typeof sensitivityPass;
  /** readings.backend, e.g. `webgpu (llvmpipe …)`. */
  readonly name: string;
  /** readings.precision. */
  readonly precision: string;
}

export const SENS_READINGS = (o: SensCalibrationOptions): Record<string, string> => ({
  sensitivity:
    'per sample, |θ·∂L/∂θ| summed element-wise over each layer (elementwise); the tensor-wise Σ_T |Σ θ·g| is recorded too (tensorwise)',
  aggregation: 'abs per sample (batch 1), then the mean over samples',
  loss:
    o.lossOn === 'answer'
      ? "mean next-token cross-entropy over the answer's tokens"
      : 'mean next-token cross-entropy over every token after the first (no padding)',
  text: `chat template(user: question) + ${o.answers} answer from ${o.text === 'reference' ? "the set's reference solutions" : "a model's responses"}`,
  truncation: o.maxTokens === null ? 'none' : `first ${o.maxTokens} tokens`,
  grouping:
    'model.layers.N = one decoder block (attention, MLP, its two norms); embed_tokens, norm, lm_head singletons; a tied head counted once, as embed_tokens',
  distance:
    'logits, per-position L2 norm (not squared), mean over positions then samples, same token ids for both models',
  precision: o.backend?.precision ?? 'f64 arithmetic on the stored weights (f32/f16/bf16 decoded exactly)',
  backend: o.backend?.name ?? 'cpu (the plain-TS backward pass)',
});

/** Token ids of each example and the indices that enter the loss; examples left with no target are dropped. */
export function tokeniseExamples(
  tokenizer: ChatTokenizer,
  examples: readonly CalibrationExample[],
  setName: string,
  o: Pick<SensCalibrationOptions, 'maxTokens' | 'lossOn'>,
): SensSample[] {
  const out: SensSample[] = [];
  for (const ex of examples) {
    const prompt = tokenizer.applyChatTemplate([{ role: 'user', content: ex.question }]);
    let ids = tokenizer.encode(prompt + ex.answer);
    const promptIds = tokenizer.encode(prompt);
    let shared = 0;
    while (shared < promptIds.length && promptIds[shared] === ids[shared]) shared++;
    if (o.maxTokens !== null) ids = ids.slice(0, o.maxTokens);
    const first = o.lossOn === 'answer' ? Math.max(1, shared) : 1;
    const targets: number[] = [];
    for (let k = first; k < ids.length; k++) targets.push(k);
    if (targets.length) out.push({ ids, targets });
  }
  if (out.length === 0)
    throw new CalibrationTextError(
      'no-target-tokens',
      setName,
      `none of the ${examples.length} calibration examples has a token to take the loss on` +
        (o.maxTokens !== null ? ` (within the first ${o.maxTokens} tokens)` : ''),
    );
  return out;
}

export async function sensCalibrate(
  folder: ModelFolder,
  examples: readonly CalibrationExample[],
  setName: string,
  o: SensCalibrationOptions,
): Promise<SensStats> {
  const ckpt = await Checkpoint.open(folder, { requireConfig: true });
  const weights = new SensWeights(ckpt);
  const tokenizer = await ChatTokenizer.load(folder, ckpt.config!.raw);
  const samples = tokeniseExamples(tokenizer, examples, setName, o);
  const total = samples.length * (1 + (o.compare?.length ?? 0));
  const sums = new Map<string, { elementwise: number; tensorwise: number }>();
  for (const [i, sample] of samples.entries()) {
    throwIfAborted(o.signal, 'sensitivity calibration');
    const pass = o.backend?.pass ?? sensitivityPass;
    const r = await pass(weights, sample, { ...(o.signal ? { signal: o.signal } : {}) });
    for (const [name, s] of r.tensors) {
      const acc = sums.get(name) ?? { elementwise: 0, tensorwise: 0 };
      acc.elementwise += s.abs;
      acc.tensorwise += Math.abs(s.signed);
      sums.set(name, acc);
    }
    o.onProgress?.(i + 1, total, 'gradients');
  }
  const m = samples.length;
  const tensors: Record<string, SensValue> = {};
  const layers: Record<string, { elementwise: number; tensorwise: number }> = {};
  for (const [name, s] of sums) {
    tensors[name] = { elementwise: s.elementwise / m, tensorwise: s.tensorwise / m };
    const g = (layers[sensGroup(name)] ??= { elementwise: 0, tensorwise: 0 });
    g.elementwise += s.elementwise / m;
    g.tensorwise += s.tensorwise / m;
  }
  const logitDistances: Record<string, number> = {};
  let done = m;
  for (const other of o.compare ?? []) {
    const otherWeights = new SensWeights(await Checkpoint.open(other, { requireConfig: true }));
    let sum = 0;
    for (const s of samples) {
      const ha = await finalHidden(weights, s.ids, o.signal);
      const hb = await finalHidden(otherWeights, s.ids, o.signal);
      sum += await logitDistance(weights, ha, otherWeights, hb, s.ids.length, o.signal);
      o.onProgress?.(++done, total, 'distances');
    }
    logitDistances[other.name] = sum / m;
  }
  const spec = weights.spec;
  return {
    format: SENS_STATS_FORMAT,
    version: 1,
    model: ckpt.name,
    architecture: { layers: spec.layers, hidden: spec.hidden, vocab: spec.vocab },
    calibration: {
      set: setName,
      text: o.text,
      answers: o.answers,
      samples: m,
      tokens: samples.reduce((a, s) => a + s.ids.length, 0),
      targets: samples.reduce((a, s) => a + s.targets.length, 0),
      seed: o.seed,
      maxTokens: o.maxTokens,
    },
    readings: SENS_READINGS(o),
    samples: samples.map((s) => ({ ids: [...s.ids], targets: [...s.targets] })),
    tensors,
    layers,
    logitDistances,
  };
}
