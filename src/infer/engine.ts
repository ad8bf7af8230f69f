/**
 * The one entry point for running a model: load a checkpoint folder (graph + session + tokenizer)
 * and answer prompts through its chat template. The CLI, the worker and the tests all use it.
 */
import { Checkpoint } from '../core/formats/checkpoint';
import type { ModelFolder } from '../core/io/byte-source';
import { InferError } from './errors';
import { type GenerateOptions, type GenerateResult, generate } from './generate';
import { CausalLM, type LoadOptions, specOf } from './model';
import type { EpReport } from './runtime';
import { type ChatMessage, ChatTokenizer } from './tokenizer';

export interface AskOptions extends Omit<GenerateOptions, 'decode' | 'eosIds'> {
  /** Apply the chat template (default true when the tokenizer has one). */
  chat?: boolean;
  /** Extra EOS ids on top of the tokenizer's. */
  eosIds?: readonly number[];
}

export interface AskResult extends GenerateResult {
  promptText: string;
  promptIds: number[];
}

export interface ChatLoadOptions extends LoadOptions {
  /** Plans the memory for this prompt: its tokens (through the chat template) + maxNewTokens,
   *  unless `tokenBudget` is given. */
  plannedPrompt?: { prompt: string | readonly ChatMessage[]; chat?: boolean; maxNewTokens: number };
}

/** The prompt text the model reads: the chat template around the messages, or the raw text. */
export function promptTextOf(tokenizer: ChatTokenizer, prompt: string | readonly ChatMessage[], chat: boolean): string {
  const messages: readonly ChatMessage[] = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
  if (chat && tokenizer.hasChatTemplate) return tokenizer.applyChatTemplate(messages);
  return typeof prompt === 'string' ? prompt : messages.map((m) => m.content).join('\n');
}

export class ChatModel {
  private constructor(
    readonly name: string,
    readonly lm: CausalLM,
    readonly tokenizer: ChatTokenizer,
    private readonly folder: ModelFolder,
  ) {}

  static async load(folder: ModelFolder, opts: ChatLoadOptions = {}): Promise<ChatModel> {
    const ckpt = await Checkpoint.open(folder, { requireConfig: true });
    if (!ckpt.config)
      throw new InferError('missing-file', `${folder.name}/config.json: missing`, {
        file: `${folder.name}/config.json`,
      });
    // Cheap checks first (config, then tokenizer), before the weights are read.
    specOf(ckpt);
    const tokenizer = await ChatTokenizer.load(folder, ckpt.config.raw);
    const planned = opts.plannedPrompt;
    let budget: Pick<LoadOptions, 'tokenBudget' | 'promptTokens'> = {};
    if (planned && opts.tokenBudget === undefined) {
      const promptTokens = tokenizer.encode(promptTextOf(tokenizer, planned.prompt, planned.chat ?? true)).length;
      budget = { promptTokens, tokenBudget: promptTokens + planned.maxNewTokens };
    }
    const lm = await CausalLM.fromCheckpoint(ckpt, { ...opts, ...budget });
    return new ChatModel(folder.name, lm, tokenizer, folder);
  }

  get ep(): EpReport {
    return this.lm.ep;
  }

  /** The prompt text the model reads: the chat template around the messages, or the raw text. */
  promptText(prompt: string | readonly ChatMessage[], chat = true): string {
    return promptTextOf(this.tokenizer, prompt, chat);
  }

  async ask(prompt: string | readonly ChatMessage[], opts: AskOptions = {}): Promise<AskResult> {
    const promptText = this.promptText(prompt, opts.chat ?? true);
    const promptIds = this.tokenizer.encode(promptText);
    const result = await generate(this.lm, promptIds, {
      ...opts,
      eosIds: [...this.tokenizer.eosIds, ...(opts.eosIds ?? [])],
      decode: (ids) => this.tokenizer.decode(ids),
    });
    return { ...result, promptText, promptIds };
  }

  /** Releases the session and closes the folder when it can be closed (file handles in Node). */
  async release(): Promise<void> {
    await this.lm.release();
    await (this.folder as { close?: () => Promise<void> }).close?.();
  }
}
