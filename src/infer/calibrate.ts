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
import { ACT_SUM_PREFIX } from './graph';
import { emptyKvTensors, openGraphSession, specOf } from './model';
import type { WeightOptions } from './weight-format';
import type { EpChoice, RuntimeAdapter } from './runtime';
import { ChatTokenizer } from './tokenizer';
import type { PlanLoadOptions } from './load-plan';
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
}

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
  opts: CalibrationOptions = {},
): Promise<ActivationStats> {
  if (examples.length === 0)
    throw new InferError('bad-options', `${setName}: no calibration examples`, { file: setName });
  const ckpt = await Checkpoint.open(folder, { requireConfig: true });
  const tokenizer = await ChatTokenizer.load(folder, ckpt.config!.raw);
  const ids = examples.map((ex) =>
    tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: ex.question }]) + ex.answer),
  );
  return calibrateIds(ckpt, ids, setName, opts);
}

/** The statistics from token sequences (each run as one prefill). */
export async function calibrateIds(
  ckpt: Checkpoint,
  sequences: readonly (readonly number[])[],
  setName: string,
  opts: CalibrationOptions = {},
): Promise<ActivationStats> {
  const spec = specOf(ckpt);
  // The memory plan for the longest sequence, before any weight is read.
  const longest = Math.max(1, ...sequences.map((s) => Math.min(s.length, spec.maxContext)));
  const { graph, ort, session } = await openGraphSession(ckpt, {
    ...opts,
    activationSums: true,
    tokenBudget: longest,
    promptTokens: longest,
  });
  const sums = new Map<string, Float64Array>();
  let tokens = 0;
  try {
    for (let e = 0; e < sequences.length; e++) {
      throwIfAborted(opts.signal, 'calibration');
      const ids = sequences[e]!.slice(0, spec.maxContext);
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        input_ids: new ort.Tensor('int32', Int32Array.from(ids), [ids.length]),
      };
      for (const [name, empty] of emptyKvTensors(ort, spec, graph.kvCache)) feeds[name] = empty;
      const out = await session.run(feeds);
      for (const name of graph.outputNames) {
        if (!name.startsWith(ACT_SUM_PREFIX)) continue;
        const v = (await out[name]!.getData()) as Float32Array;
        const weight = name.slice(ACT_SUM_PREFIX.length);
        const acc = sums.get(weight) ?? new Float64Array(v.length);
        for (let j = 0; j < v.length; j++) acc[j]! += v[j]!;
        sums.set(weight, acc);
      }
      tokens += ids.length;
      opts.onProgress?.(e + 1, sequences.length);
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
