/**
 * A checkpoint folder loaded for batched answering: the batched graph's session (./batch-model.ts)
 * and the tokenizer, without a batch-1 session beside it (one copy of the weights). As the
 * evaluation runner's CompletionModel it answers one prompt or many (continuous batching, greedy,
 * as the paper evaluates), streaming each response's text.
 */
import { type ChatMessage, type Completion, type CompletionModel, completionEnd } from '../core/eval/run';
import { Checkpoint } from '../core/formats/checkpoint';
import type { ModelFolder } from '../core/io/byte-source';
import { batchGenerate } from './batch-generate';
import { BatchLM } from './batch-model';
import { promptTextOf } from './engine';
import { InferError } from './errors';
import type { GenerateResult } from './generate';
import { type LoadOptions, specOf } from './model';
import { ChatTokenizer } from './tokenizer';

export class BatchChatModel {
  private constructor(
    readonly name: string,
    readonly lm: BatchLM,
    readonly tokenizer: ChatTokenizer,
  ) {}

  static async load(folder: ModelFolder, opts: LoadOptions = {}): Promise<BatchChatModel> {
    const ckpt = await Checkpoint.open(folder, { requireConfig: true });
    if (!ckpt.config)
      throw new InferError('missing-file', `${folder.name}/config.json: missing`, {
        file: `${folder.name}/config.json`,
      });
    specOf(ckpt); // cheap checks first (config, then tokenizer), before the weights are read
    const tokenizer = await ChatTokenizer.load(folder, ckpt.config.raw);
    return new BatchChatModel(folder.name, await BatchLM.fromCheckpoint(ckpt, opts, folder), tokenizer);
  }

  /** Greedy answers to many conversations through the chat template, at most `batchSize` at a time. */
  async answer(
    conversations: readonly (readonly ChatMessage[])[],
    opts: {
      maxNewTokens: number;
      batchSize: number;
      signal?: AbortSignal;
      onText?: (index: number, textSoFar: string) => void;
      onResult?: (index: number, result: GenerateResult) => void;
    },
  ) {
    const prompts = conversations.map((m) => this.tokenizer.encode(promptTextOf(this.tokenizer, m, true)));
    const texts = conversations.map(() => '');
    const onText = opts.onText;
    return batchGenerate(this.lm, prompts, {
      maxNewTokens: opts.maxNewTokens,
      batchSize: opts.batchSize,
      temperature: 0,
      eosIds: this.tokenizer.eosIds,
      decode: (ids) => this.tokenizer.decode(ids),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(onText ? { onToken: (i: number, t: { text: string }) => onText(i, (texts[i] += t.text)) } : {}),
      ...(opts.onResult ? { onResult: opts.onResult } : {}),
    });
  }

  /** The evaluation runner's view: `completeMany` runs `batchSize` sequences at a time. */
  completionModel(name = this.name, batchSize = 1): CompletionModel {
    const completion = (r: GenerateResult): Completion => ({
      text: r.text,
      tokens: r.ids.length,
      ...completionEnd(r.finishReason),
    });
    return {
      name,
      complete: async (messages, opts) => {
        const onText = opts.onText;
        const run = await this.answer([messages], {
          maxNewTokens: opts.maxNewTokens,
          batchSize: 1,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(onText ? { onText: (_: number, text: string) => onText(text) } : {}),
        });
        return completion(run.results[0]!);
      },
      completeMany: async (conversations, opts) => {
        const run = await this.answer(conversations, {
          maxNewTokens: opts.maxNewTokens,
          batchSize,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onText ? { onText: opts.onText } : {}),
          ...(opts.onCompletion
            ? { onResult: (i: number, r: GenerateResult) => opts.onCompletion!(i, completion(r)) }
            : {}),
        });
        return { completions: run.results.map(completion), tokPerS: run.timings.tokPerS };
      },
    };
  }

  async release(): Promise<void> {
    await this.lm.release();
  }
}
