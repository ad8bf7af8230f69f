/**
 * AIM calibration: run calibration text through the base model with the graph's calibration
 * variant (activationSums) and return the mean |activation| of every input channel of every
 * linear layer. Only the [in]-sized sums leave the session, never the activations.
 */
import type { ProblemSet } from '../core/eval/problem-set';
import { Checkpoint } from '../core/formats/checkpoint';
import type { ModelFolder } from '../core/io/byte-source';
import { ACTIVATION_STATS_FORMAT, type ActivationStats } from '../core/merge/activation-stats';
import { throwIfAborted } from '../core/errors';
import { InferError } from './errors';
import { ACT_SUM_PREFIX, type BuiltGraph } from './graph';
import type * as Ort from 'onnxruntime-web';
import type { ModelSpec } from './architecture';
import { NEW_LENGTHS, PAST_LENGTHS } from './graph-batch';
import { emptyKvTensors, openGraphSession, specOf } from './model';
import type { WeightOptions } from './weight-format';
import type { EpChoice, OrtModule, RuntimeAdapter } from './runtime';
import { ChatTokenizer } from './tokenizer';
import { type PlanLoadOptions, fittingBatch } from './load-plan';
import type { PreparedWeights } from './prepared-weights';

/** With f16 / q4 weights, the statistics are those of the model as it runs in that format. */
export interface CalibrationOptions
  extends WeightOptions, Pick<PlanLoadOptions, 'force' | 'wasmHeapBytes' | 'onPlan' | 'onWarning'> {
  ep?: EpChoice;
  adapter?: RuntimeAdapter;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** f16 / q4: prepared weights (`merge-lab quantize`, --weights-cache) used instead of packing when they match. */
  prepared?: PreparedWeights;
  /**
   * Sequences per run (default 1): above 1, the batched graph prefills that many at once, each
   * padded to the longest of its group, the padding rows masked out of the sums.
   */
  batchSize?: number;
}

/** The most sequences `batchSize: 'auto'` runs at once. */
export const MAX_AUTO_BATCH = 8;

/**
 * The paper's best calibration data: problems with short answers. Each text is the chat-templated
 * question followed by "The answer is N." (what a System 1 model would say).
 */
export function calibrationMessages(set: ProblemSet, samples = 32): { question: string; answer: string }[] {
  const step = Math.max(1, Math.floor(set.problems.length / samples));
  return set.problems
    .filter((_, i) => i % step === 0)
    .slice(0, samples)
    .map((p) => ({ question: p.question, answer: `The answer is ${p.answer}.` }));
}

export async function calibrate(
  folder: ModelFolder,
  examples: readonly { question: string; answer: string }[],
  setName: string,
  opts: Omit<CalibrationOptions, 'batchSize'> & {
    /** 'auto': the memory plan's largest batch up to MAX_AUTO_BATCH (and the number of examples), told to `onBatch`. */
    batchSize?: number | 'auto';
    onBatch?: (batch: number) => void;
  } = {},
): Promise<ActivationStats> {
  if (examples.length === 0)
    throw new InferError('bad-options', `${setName}: no calibration examples`, { file: setName });
  const ckpt = await Checkpoint.open(folder, { requireConfig: true });
  const tokenizer = await ChatTokenizer.load(folder, ckpt.config!.raw);
  const ids = examples.map((ex) =>
    tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: ex.question }]) + ex.answer),
  );
  const { batchSize = 1, onBatch, ...rest } = opts;
  let batch = batchSize;
  if (batch === 'auto') {
    const spec = specOf(ckpt);
    const longest = Math.max(1, ...ids.map((s) => Math.min(s.length, spec.maxContext)));
    const planned = { ...rest, tokenBudget: longest, promptTokens: longest, batchPrefill: 'together' as const };
    batch = Math.min(ids.length, Math.max(1, await fittingBatch(spec, planned, MAX_AUTO_BATCH)));
    onBatch?.(batch);
  }
  return calibrateIds(ckpt, ids, setName, { ...rest, batchSize: batch });
}

/** The statistics from token sequences (each run as one prefill, `opts.batchSize` at a time). */
export async function calibrateIds(
  ckpt: Checkpoint,
  sequences: readonly (readonly number[])[],
  setName: string,
  opts: CalibrationOptions = {},
): Promise<ActivationStats> {
  const spec = specOf(ckpt);
  const batchSize = opts.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InferError('bad-options', `the batch size must be a positive integer (got ${batchSize})`, {
      field: 'batchSize',
    });
  const batched = batchSize > 1;
  // The memory plan for the longest sequence, before any weight is read.
  const clipped = sequences.map((s) => s.slice(0, spec.maxContext));
  const longest = Math.max(1, ...clipped.map((s) => s.length));
  const { graph, ort, session } = await openGraphSession(ckpt, {
    ...opts,
    activationSums: true,
    tokenBudget: longest,
    promptTokens: longest,
    ...(batched && { batch: true, batchSize, batchPrefill: 'together' as const }),
  });
  const sums = new Map<string, Float64Array>();
  let tokens = 0;
  try {
    for (let first = 0; first < clipped.length; first += batchSize) {
      throwIfAborted(opts.signal, 'calibration');
      const group = clipped.slice(first, first + batchSize);
      const out = await session.run(
        batched ? batchFeeds(ort, spec, graph, group) : singleFeeds(ort, spec, graph, group[0]!),
      );
      for (const name of graph.outputNames) {
        if (!name.startsWith(ACT_SUM_PREFIX)) continue;
        const v = (await out[name]!.getData()) as Float32Array;
        const weight = name.slice(ACT_SUM_PREFIX.length);
        const acc = sums.get(weight) ?? new Float64Array(v.length);
        for (let j = 0; j < v.length; j++) acc[j]! += v[j]!;
        sums.set(weight, acc);
      }
      tokens += group.reduce((n, ids) => n + ids.length, 0);
      opts.onProgress?.(first + group.length, clipped.length);
    }
  } finally {
    await session.release();
  }
  const channels: Record<string, number[]> = {};
  for (const [w, acc] of sums) channels[w] = Array.from(acc, (s) => s / tokens);
  return {
    format: ACTIVATION_STATS_FORMAT,
    version: 1,
    model: ckpt.name,
    calibration: { set: setName, samples: sequences.length, tokens },
    channels,
  };
}

type Feeds = Record<string, Ort.Tensor>;

function singleFeeds(ort: OrtModule, spec: ModelSpec, graph: BuiltGraph, ids: readonly number[]): Feeds {
  const feeds: Feeds = { input_ids: new ort.Tensor('int32', Int32Array.from(ids), [ids.length]) };
  for (const [name, empty] of emptyKvTensors(ort, spec, graph.kvCache)) feeds[name] = empty;
  return feeds;
}

/** The batched graph's feeds for a prefill of `group` (right-padded with token 0, an empty cache). */
function batchFeeds(ort: OrtModule, spec: ModelSpec, graph: BuiltGraph, group: readonly (readonly number[])[]): Feeds {
  const B = group.length;
  const S = Math.max(...group.map((ids) => ids.length));
  const flat = new Int32Array(B * S);
  group.forEach((ids, b) => flat.set(ids, b * S));
  const feeds: Feeds = {
    input_ids: new ort.Tensor('int32', flat, [B, S]),
    [NEW_LENGTHS]: new ort.Tensor(
      'int32',
      Int32Array.from(group, (ids) => ids.length),
      [B],
    ),
    [PAST_LENGTHS]: new ort.Tensor('int32', new Int32Array(B), [B]),
  };
  for (const [name, empty] of emptyKvTensors(ort, spec, graph.kvCache))
    feeds[name] = new ort.Tensor(empty.type as 'float32', empty.data as Float32Array, [B, ...empty.dims.slice(1)]);
  return feeds;
}
