/**
 * One sequence's side of generation, token by token, as ./generate.ts does it for batch 1: the EOS
 * ids, stop strings (text cut before the first), max_new_tokens and the context limit end it; text
 * is streamed as it becomes final; its own seeded random stream picks sampled tokens. A batch holds
 * one per sequence, so what a sequence generates never depends on the others.
 */
import { type FinishReason, type GenerateOptions, type GenerateResult, pendingStopPrefix } from './generate';
import { sampleToken, seededRandom } from './sampling';

export class SequenceStream {
  readonly ids: number[] = [];
  text = '';
  finishReason: FinishReason | undefined;
  private emitted = '';
  private readonly eos: Set<number>;
  private readonly stops: string[];
  private readonly random: () => number;
  private readonly maxNew: number;
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
    private readonly onToken: (token: { id: number; text: string }) => void = () => {},
  ) {
    this.eos = new Set(opts.eosIds ?? []);
    this.stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
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
    if (decode) {
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
