/**
 * Continuous batching: many prompts through one batched model (./batch-model.ts) with at most
 * `batchSize` sequences in flight. A sequence that finishes (EOS, stop string, token limit, context)
 * leaves after the step that finished it and the next prompt takes its slot, so one long answer
 * never holds up the others. Each new sequence is prefilled on its own (a B = 1 call with its whole
 * prompt: the same rows as batch-1 generation; or, with `prefill: 'together'`, the prompts that join
 * at one step in one padded call) and then joins the batch's decode steps, one token per sequence
 * per call; its KV cache rows are copied into the batch's (BatchLM.regroup) when it joins. Every
 * sequence has its own random stream (seed + its index among the prompts) and its own stop rules,
 * so what it generates depends on its prompt and the seed only: greedy answers are those of
 * `generate()` one prompt at a time. Cancelling stops the whole batch.
 */
import { type LabWarning, throwIfAborted } from '../core/errors';
import type { BatchCache, BatchLM, CacheRow } from './batch-model';
import { InferError } from './errors';
import type { GenerateOptions, GenerateResult } from './generate';
import { positionsWarning } from './load-plan';
import { yieldToEventLoop } from './yield';
import { SequenceStream } from './sequence-stream';

export interface BatchGenerateOptions extends Omit<GenerateOptions, 'onToken' | 'onWarning'> {
  /** Most sequences in one decode step (default 1). */
  batchSize?: number;
  /**
   * How new prompts are prefilled: 'alone' (default), one call per prompt, exactly batch-1's
   * prefill; or 'together', the prompts joining at one step in one call, padded to the longest.
   */
  prefill?: 'alone' | 'together';
  /** Each new token of prompt `index`, as `generate`'s onToken. */
  onToken?: (index: number, token: { id: number; text: string }) => void;
  /** Prompt `index` finished. */
  onResult?: (index: number, result: GenerateResult) => void;
  /** Once per prompt whose prompt + maxNewTokens exceeds max_position_embeddings. */
  onWarning?: (warning: LabWarning, index: number) => void;
}

export interface BatchTimings {
  sequences: number;
  newTokens: number;
  /** Wall time of the whole run. */
  totalMs: number;
  /** Every new token over the whole run's wall time. */
  tokPerS: number;
  /** Time in the prefill calls. */
  prefillMs: number;
  /** Batched decode calls, their wall time and the tokens they produced per second. */
  decodeSteps: number;
  decodeMs: number;
  decodeTokPerS: number;
  /** Time spent regrouping the KV cache when sequences join or leave. */
  regroupMs: number;
}

export interface BatchGenerateResult {
  /** One per prompt, in the prompts' order. */
  results: GenerateResult[];
  timings: BatchTimings;
}

export async function batchGenerate(
  lm: BatchLM,
  prompts: readonly (readonly number[])[],
  opts: BatchGenerateOptions = {},
): Promise<BatchGenerateResult> {
  const batchSize = opts.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InferError('bad-options', `the batch size must be a positive integer (got ${batchSize})`, {
      field: 'batchSize',
    });
  if ((opts.stopStrings ?? []).some((s) => s.length > 0) && !opts.decode)
    throw new InferError('bad-options', 'stop strings need a decode function (a tokenizer)');
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new InferError('context-overflow', `prompt ${i} is empty`);
    const warning = positionsWarning(p.length + (opts.maxNewTokens ?? 256), lm.spec.maxPositions);
    if (warning) opts.onWarning?.(warning, i);
  });
  const { vocab: V, maxContext } = lm.spec;
  const maxNew = opts.maxNewTokens ?? 256;
  const now = () => performance.now();
  const t0 = now();
  const timings = { prefillMs: 0, decodeSteps: 0, decodeMs: 0, decodeTokens: 0, regroupMs: 0 };
  const results: GenerateResult[] = new Array(prompts.length);
  const finish = (index: number, seq: SequenceStream) => {
    results[index] = seq.result();
    opts.onResult?.(index, results[index]);
  };

  let next = 0; // the next prompt to start
  /** The sequences in flight; `row` is each one's row of `cache`. */
  let active: { index: number; seq: SequenceStream; row: number }[] = [];
  let cache: BatchCache | undefined;
  let left = false; // a sequence left the last step: the cache has rows nobody reads
  const pause = async () => {
    if (!opts.signal) return;
    await yieldToEventLoop();
    throwIfAborted(opts.signal, 'generation');
  };
  const prefilled: BatchCache[] = []; // prefill caches whose rows are not yet copied into the batch
  try {
    while (next < prompts.length || active.length > 0) {
      throwIfAborted(opts.signal, 'generation');
      // Fill free slots: new prompts are prefilled (alone or together); one that finishes at once never joins.
      const joined: CacheRow[] = [];
      while (active.length < batchSize && next < prompts.length) {
        const starting: { index: number; seq: SequenceStream }[] = [];
        while (active.length + starting.length < batchSize && next < prompts.length) {
          const index = next++;
          const listener = opts.onToken;
          const onToken = listener && ((t: { id: number; text: string }) => listener(index, t));
          starting.push({ index, seq: new SequenceStream(prompts[index]!, opts, (opts.seed ?? 0) + index, onToken) });
        }
        for (const group of opts.prefill === 'together' ? [starting] : starting.map((s) => [s])) {
          const t = now();
          const step = await lm.forward(
            group.map(({ seq }) => seq.promptIds),
            lm.emptyCache(group.length),
          );
          prefilled.push(step.cache);
          const ms = now() - t;
          timings.prefillMs += ms;
          group.forEach(({ index, seq }, row) => {
            seq.prefillMs = ms;
            const logits = step.logits.subarray(row * V, (row + 1) * V);
            if (maxNew <= 0 || seq.accept(logits, step.cache.lengths[row]!, maxContext)) finish(index, seq);
            else {
              active.push({ index, seq, row: -1 - joined.length });
              joined.push({ cache: step.cache, row });
            }
          });
          await pause();
        }
      }
      if (joined.length || left || !active.length) {
        // One copy per change of membership: the staying rows, then the new ones.
        const t = now();
        const rows = active.map((a) => (a.row >= 0 ? { cache: cache!, row: a.row } : joined[-1 - a.row]!));
        const grouped = active.length ? await lm.regroup(rows) : undefined;
        for (const c of [cache, ...prefilled.splice(0)]) lm.releaseCache(c);
        cache = grouped;
        active = active.map((a, row) => ({ ...a, row }));
        timings.regroupMs += now() - t;
      }
      for (const c of prefilled.splice(0)) lm.releaseCache(c); // sequences that finished at once
      if (!active.length) continue;

      const t = now();
      const step = await lm.forward(
        active.map(({ seq }) => [seq.last]),
        cache!,
      );
      const ms = now() - t;
      timings.decodeSteps++;
      timings.decodeMs += ms;
      timings.decodeTokens += active.length;
      lm.releaseCache(cache);
      cache = step.cache;
      const staying = active.filter(({ index, seq, row }) => {
        seq.decodeMs += ms;
        const done = seq.accept(step.logits.subarray(row * V, (row + 1) * V), step.cache.lengths[row]!, maxContext);
        if (done) finish(index, seq);
        return !done;
      });
      left = staying.length < active.length;
      active = staying;
      await pause();
    }
  } finally {
    for (const c of [cache, ...prefilled]) lm.releaseCache(c);
  }
  const totalMs = now() - t0;
  const newTokens = results.reduce((n, r) => n + r.ids.length, 0);
  return {
    results,
    timings: {
      sequences: prompts.length,
      newTokens,
      totalMs,
      tokPerS: totalMs > 0 ? (newTokens / totalMs) * 1000 : 0,
      prefillMs: timings.prefillMs,
      decodeSteps: timings.decodeSteps,
      decodeMs: timings.decodeMs,
      decodeTokPerS: timings.decodeMs > 0 ? (timings.decodeTokens / timings.decodeMs) * 1000 : 0,
      regroupMs: timings.regroupMs,
    },
  };
}
