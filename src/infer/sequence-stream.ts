/**
 * One sequence's side of generation, token by token (./generate.ts runs one, batched generation many): the EOS
 * ids, stop strings (text cut before the first), max_new_tokens and the context limit end it; text
 * is streamed as it becomes final; its own seeded random stream picks sampled tokens. A batch holds
 * one per sequence, so what a sequence generates never depends on the others.
 */
import type { LabWarning } from '../core/errors';
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

export class SequenceStream {
  readonly ids: number[] = [];
  text = '';
  finishReason: FinishReason | undefined;
  private emitted = '';
  private readonly eos: Set<number>;
  private readonly stops: string[];
  private readonly random: () => number;
  private readonly onToken: (token: { id: number; text: string }) => void;
  private readonly maxNew: number;
  /** Text is decoded token by token only when someone reads it as it grows (a listener, stop strings);
   *  otherwise once, when the sequence finishes (the same text, without decoding every prefix). */
  private readonly streaming: boolean;
  /** Wall times, ms: when its prefill started and ended, its first token, and its decode steps. */
  readonly started = performance.now();
  prefillMs = 0;
  timeToFirstTokenMs = 0;
  decodeMs = 0;

  constructor(
    readonly promptIds: readonly number[],
    private readonly opts: Omit<GenerateOptions, 'onToken' | 'onWarning'>,
    /** The sequence's own random stream: seed + its index among the prompts. */
    seed: number,
    onToken?: (token: { id: number; text: string }) => void,
  ) {
    this.eos = new Set(opts.eosIds ?? []);
    this.stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
    this.onToken = onToken ?? (() => {});
    this.streaming = onToken !== undefined || this.stops.length > 0;
    this.random = seededRandom(seed);
    this.maxNew = opts.maxNewTokens ?? 256;
  }

  get done(): boolean {
    return this.finishReason !== undefined;
  }

  /** The last token, the next forward's input. */
  get last(): number {
    return this.ids[this.ids.length - 1]!;
  }

  /**
   * Picks the next token from this sequence's logits row and records it; `cacheLength` is the
   * sequence's cached positions. Returns whether the sequence is finished.
   */
  accept(logits: Float32Array, cacheLength: number, maxContext: number): boolean {
    const next = sampleToken(logits, this.opts, this.random);
    if (this.ids.length === 0) this.timeToFirstTokenMs = performance.now() - this.started;
    if (this.eos.has(next)) return this.finish('eos');
    this.ids.push(next);
    const decode = this.opts.decode;
    if (decode && this.streaming) {
      this.text = decode(this.ids);
      const hit = this.stops.map((s) => this.text.indexOf(s)).filter((i) => i >= 0);
      if (hit.length) {
        this.text = this.text.slice(0, Math.min(...hit));
        this.onToken({ id: next, text: this.text.slice(this.emitted.length) });
        this.emitted = this.text;
        return this.finish('stop-string');
      }
      // Hold back an incomplete UTF-8 sequence and any tail that may still grow into a stop string.
      let final = this.text.length - pendingStopPrefix(this.text, this.stops);
      if (this.text.charCodeAt(final - 1) === 0xfffd) final--;
      const fresh = final > this.emitted.length && this.text.startsWith(this.emitted);
      const delta = fresh ? this.text.slice(this.emitted.length, final) : '';
      this.emitted += delta;
      this.onToken({ id: next, text: delta });
    } else this.onToken({ id: next, text: '' });
    if (this.ids.length >= this.maxNew) return this.finish('max-new-tokens');
    if (cacheLength + 1 > maxContext) return this.finish('context');
    return false;
  }

  private finish(reason: FinishReason): true {
    this.finishReason = reason;
    if (this.opts.decode && reason !== 'stop-string') {
      this.text = this.opts.decode(this.ids);
      if (this.text.length > this.emitted.length && this.text.startsWith(this.emitted))
        this.onToken({ id: this.ids[this.ids.length - 1] ?? -1, text: this.text.slice(this.emitted.length) });
    }
    return true;
  }

  result(): GenerateResult {
    const decodeSteps = Math.max(0, this.ids.length - 1 + (this.finishReason === 'eos' ? 1 : 0));
    return {
      ids: this.ids,
      text: this.text,
      finishReason: this.finishReason ?? 'max-new-tokens',
      timings: {
        promptTokens: this.promptIds.length,
        newTokens: this.ids.length,
        prefillMs: this.prefillMs,
        prefillTokPerS: (this.promptIds.length / this.prefillMs) * 1000,
        timeToFirstTokenMs: this.timeToFirstTokenMs,
        decodeMs: this.decodeMs,
        decodeTokPerS: this.decodeMs > 0 ? (decodeSteps / this.decodeMs) * 1000 : 0,
        totalMs: performance.now() - this.started,
      },
    };
  }
}
