/**
 * The generation loop: one prefill call with the prompt, then one decode call per new token
 * through the KV cache. Streams text as it becomes final, stops on EOS ids, stop strings,
 * max_new_tokens or the graph's hard context limit (a sliding window), and can be cancelled
 * between tokens. A budget past max_position_embeddings gets one warning and runs on.
 */
import { type LabWarning, throwIfAborted } from '../core/errors';
import { InferError } from './errors';
import { positionsWarning } from './load-plan';
import { yieldToEventLoop } from './yield';
import type { CausalLM } from './model';
import { type SamplingOptions, sampleToken, seededRandom } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate, an EOS token included (as transformers counts them). Default 256. */
  maxNewTokens?: number;
  /** Token ids that end generation (not part of the returned text). Default: none. */
  eosIds?: readonly number[];
  /** Strings that end generation; the text is cut before the first one. Needs `decode`. */
  stopStrings?: readonly string[];
  /** ids → text, to stream text and detect stop strings (a tokenizer's decode). */
  decode?: (ids: readonly number[]) => string;
  /** Called once per new token; `text` is the newly final text (may be empty while a multi-byte
   *  character or a possible stop string is still incomplete). */
  onToken?: (token: { id: number; text: string }) => void;
  signal?: AbortSignal;
  /** Called once when prompt + maxNewTokens exceeds max_position_embeddings (generation goes on). */
  onWarning?: (warning: LabWarning) => void;
}

export type FinishReason = 'eos' | 'stop-string' | 'max-new-tokens' | 'context';

export interface Timings {
  promptTokens: number;
  newTokens: number;
  /** Wall time of the prefill forward pass. */
  prefillMs: number;
  prefillTokPerS: number;
  /** From the call until the first new token is known (prefill + sampling). */
  timeToFirstTokenMs: number;
  /** Wall time of the decode steps (every token after the first). */
  decodeMs: number;
  decodeTokPerS: number;
  totalMs: number;
}

export interface GenerateResult {
  /** New token ids, without the EOS token. */
  ids: number[];
  text: string;
  finishReason: FinishReason;
  timings: Timings;
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
export function pendingStopPrefix(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, text.length); k > best; k--)
      if (text.endsWith(s.slice(0, k))) {
        best = k;
        break;
      }
  return best;
}

export async function generate(
  lm: CausalLM,
  promptIds: readonly number[],
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  const maxNew = opts.maxNewTokens ?? 256;
  const eos = new Set(opts.eosIds ?? []);
  const stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  if (stops.length && !opts.decode)
    throw new InferError('bad-options', 'stop strings need a decode function (a tokenizer)');
  if (promptIds.length === 0) throw new InferError('context-overflow', 'the prompt is empty');
  const pastPositions = positionsWarning(promptIds.length + maxNew, lm.spec.maxPositions);
  if (pastPositions) opts.onWarning?.(pastPositions);
  const random = seededRandom(opts.seed ?? 0);
  const now = () => performance.now();

  const t0 = now();
  throwIfAborted(opts.signal, 'generation');
  let step = await lm.forward(promptIds);
  const prefillMs = now() - t0;
  let timeToFirstTokenMs = 0;
  let decodeMs = 0;
  const ids: number[] = [];
  let emitted = ''; // text already streamed
  let text = '';
  let finishReason: FinishReason = 'max-new-tokens';

  try {
    while (ids.length < maxNew) {
      const V = lm.spec.vocab;
      const next = sampleToken(step.logits.subarray((step.rows - 1) * V, step.rows * V), opts, random);
      if (ids.length === 0) timeToFirstTokenMs = now() - t0;
      if (eos.has(next)) {
        finishReason = 'eos';
        break;
      }
      ids.push(next);
      if (opts.decode) {
        text = opts.decode(ids);
        const hit = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
        if (hit.length) {
          text = text.slice(0, Math.min(...hit));
          opts.onToken?.({ id: next, text: text.slice(emitted.length) });
          emitted = text;
          finishReason = 'stop-string';
          break;
        }
        // Hold back a trailing replacement character (an incomplete UTF-8 sequence) and any tail
        // that may still grow into a stop string.
        let final = text.length - pendingStopPrefix(text, stops);
        if (text.charCodeAt(final - 1) === 0xfffd) final--;
        const delta = final > emitted.length && text.startsWith(emitted) ? text.slice(emitted.length, final) : '';
        emitted += delta;
        opts.onToken?.({ id: next, text: delta });
      } else opts.onToken?.({ id: next, text: '' });
      if (ids.length >= maxNew) break;
      if (step.cache.length + 1 > lm.spec.maxContext) {
        finishReason = 'context';
        break;
      }
      if (opts.signal) {
        await yieldToEventLoop();
        throwIfAborted(opts.signal, 'generation');
      }
      const t = now();
      const previous = step.cache;
      step = await lm.forward([next], previous);
      decodeMs += now() - t;
      lm.releaseCache(previous);
    }
  } finally {
    lm.releaseCache(step.cache);
  }
  if (opts.decode && finishReason !== 'stop-string') {
    text = opts.decode(ids);
    if (text.length > emitted.length && text.startsWith(emitted))
      opts.onToken?.({ id: ids[ids.length - 1] ?? -1, text: text.slice(emitted.length) });
  }
  const decodeSteps = Math.max(0, ids.length - 1 + (finishReason === 'eos' ? 1 : 0));
  const totalMs = now() - t0;
  return {
    ids,
    text,
    finishReason,
    timings: {
      promptTokens: promptIds.length,
      newTokens: ids.length,
      prefillMs,
      prefillTokPerS: (promptIds.length / prefillMs) * 1000,
      timeToFirstTokenMs,
      decodeMs,
      decodeTokPerS: decodeMs > 0 ? (decodeSteps / decodeMs) * 1000 : 0,
      totalMs,
    },
  };
}
