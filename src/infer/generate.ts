/**
 * The generation loop: one prefill call with the prompt, then one decode call per new token
 * through the KV cache. Streams text as it becomes final, stops on EOS ids, stop strings,
 * max_new_tokens or the graph's hard context limit (a sliding window), and can be cancelled
 * between tokens. A budget past max_position_embeddings gets one warning and runs on. The
 * sequence's own side (sampling, stop rules, streaming, timings) is ./sequence-stream.ts, which
 * batched generation runs once per sequence.
 */
import { throwIfAborted } from '../core/errors';
import { InferError } from './errors';
import { positionsWarning } from './load-plan';
import { yieldToEventLoop } from './yield';
import type { CausalLM } from './model';
import { type GenerateOptions, type GenerateResult, SequenceStream } from './sequence-stream';

export {
  type FinishReason,
  type GenerateOptions,
  type GenerateResult,
  type Timings,
  pendingStopPrefix,
} from './sequence-stream';

export async function generate(
  lm: CausalLM,
  promptIds: readonly number[],
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  const maxNew = opts.maxNewTokens ?? 256;
  if ((opts.stopStrings ?? []).some((s) => s.length > 0) && !opts.decode)
    throw new InferError('bad-options', 'stop strings need a decode function (a tokenizer)');
  if (promptIds.length === 0) throw new InferError('context-overflow', 'the prompt is empty');
  const pastPositions = positionsWarning(promptIds.length + maxNew, lm.spec.maxPositions);
  if (pastPositions) opts.onWarning?.(pastPositions);
  const { vocab: V, maxContext } = lm.spec;
  const now = () => performance.now();

  const seq = new SequenceStream(promptIds, opts, opts.seed ?? 0, opts.onToken);
  throwIfAborted(opts.signal, 'generation');
  let step = await lm.forward(promptIds);
  seq.prefillMs = now() - seq.started;
  try {
    const lastRow = () => step.logits.subarray((step.rows - 1) * V, step.rows * V);
    if (maxNew > 0)
      while (!seq.accept(lastRow(), step.cache.length, maxContext)) {
        if (opts.signal) {
          await yieldToEventLoop();
          throwIfAborted(opts.signal, 'generation');
        }
        const t = now();
        const previous = step.cache;
        step = await lm.forward([seq.last], previous);
        seq.decodeMs += now() - t;
        lm.releaseCache(previous);
      }
  } finally {
    lm.releaseCache(step.cache);
  }
  return seq.result();
}
