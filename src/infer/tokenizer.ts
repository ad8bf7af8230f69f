/**
 * tokenizer.json through @huggingface/tokenizers and the chat template from
 * tokenizer_config.json through @huggingface/jinja. Loading checks that every token id fits the
 * model's embedding (vocab_size), so a tokenizer from another model fails here, not mid-answer.
 */
import type { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { type ModelFolder, readText } from '../core/io/byte-source';
import { parseChatTemplate, renderChatTemplate } from './chat-template';
import { InferError } from './errors';

/** More than any published tokenizer lists; enough to keep the library's quadratic check short. */
export const MAX_ADDITIONAL_SPECIAL_TOKENS = 10_000;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

async function readJson(
  folder: ModelFolder,
  file: string,
  required: boolean,
): Promise<Record<string, unknown> | undefined> {
  const src = await folder.open(file);
  if (!src) {
    if (required)
      throw new InferError('missing-file', `${folder.name}/${file}: missing; generation needs the tokenizer`, {
        file: `${folder.name}/${file}`,
      });
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(await readText(src));
  } catch (e) {
    throw new InferError('tokenizer-mismatch', `${folder.name}/${file}: not valid JSON (${(e as Error).message})`, {
      file: `${folder.name}/${file}`,
    });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new InferError('tokenizer-mismatch', `${folder.name}/${file}: not a JSON object`, {
      file: `${folder.name}/${file}`,
    });
  return doc as Record<string, unknown>;
}

const tokenContent = (t: unknown): string | undefined =>
  typeof t === 'string'
    ? t
    : t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string'
      ? (t as { content: string }).content
      : undefined;

export class ChatTokenizer {
  private constructor(
    private readonly tok: Tokenizer,
    private readonly template: Template | undefined,
    private readonly config: Record<string, unknown>,
    /** Token ids that end generation: eos_token of tokenizer_config plus generation_config / config eos_token_id. */
    readonly eosIds: readonly number[],
    /** Number of distinct ids (vocabulary + added tokens). */
    readonly size: number,
    /** Paths for errors: tokenizer.json and tokenizer_config.json in their folder. */
    private readonly files: { readonly tokenizer: string; readonly config: string },
  ) {}

  /** `modelConfig` is config.json's raw object (for vocab_size and eos_token_id). */
  static async load(folder: ModelFolder, modelConfig: Readonly<Record<string, unknown>>): Promise<ChatTokenizer> {
    const tj = (await readJson(folder, 'tokenizer.json', true))!;
    const tc = (await readJson(folder, 'tokenizer_config.json', false)) ?? {};
    const gen = (await readJson(folder, 'generation_config.json', false)) ?? {};
    // The library checks each additional special token against all before it (quadratic).
    const extra = tc.additional_special_tokens;
    if (Array.isArray(extra) && extra.length > MAX_ADDITIONAL_SPECIAL_TOKENS)
      throw new InferError(
        'tokenizer-mismatch',
        `${folder.name}/tokenizer_config.json: additional_special_tokens lists ${extra.length} tokens, more than the ${MAX_ADDITIONAL_SPECIAL_TOKENS} the lab loads`,
        { file: `${folder.name}/tokenizer_config.json` },
      );
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tj, tc);
    } catch (e) {
      throw new InferError(
        'tokenizer-mismatch',
        `${folder.name}/tokenizer.json: could not be loaded (${(e as Error).message})`,
        { file: `${folder.name}/tokenizer.json` },
      );
    }
    const vocab = tok.get_vocab(true);
    const vocabSize = modelConfig.vocab_size as number;
    let maxId = -1;
    let maxToken = '';
    for (const [t, id] of vocab) {
      if (!Number.isSafeInteger(id) || id < 0)
        throw new InferError(
          'tokenizer-mismatch',
          `${folder.name}/tokenizer.json: token ${JSON.stringify(t.slice(0, 80))} has no valid id (${typeof id})`,
          { file: `${folder.name}/tokenizer.json` },
        );
      if (id > maxId) [maxId, maxToken] = [id, t];
    }
    if (maxId >= vocabSize)
      throw new InferError(
        'tokenizer-mismatch',
        `${folder.name}/tokenizer.json does not match the model: token ${JSON.stringify(maxToken)} has id ${maxId} but config.json's vocab_size is ${vocabSize} (is the tokenizer from another model?)`,
        { file: `${folder.name}/tokenizer.json` },
      );
    const eos = new Set<number>();
    for (const v of [gen.eos_token_id, modelConfig.eos_token_id].flat()) if (typeof v === 'number') eos.add(v);
    const eosText = tokenContent(tc.eos_token);
    if (eosText !== undefined && vocab.has(eosText)) eos.add(vocab.get(eosText)!);
    const chat = typeof tc.chat_template === 'string' ? tc.chat_template : undefined;
    const template = chat ? parseChatTemplate(chat, `${folder.name}/tokenizer_config.json`) : undefined;
    return new ChatTokenizer(tok, template, tc, [...eos], vocab.size, {
      tokenizer: `${folder.name}/tokenizer.json`,
      config: `${folder.name}/tokenizer_config.json`,
    });
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /** Text → ids, without adding BOS/EOS (templates already contain their special tokens). */
  encode(text: string): number[] {
    return this.guarded('encode', () => this.tok.encode(text, { add_special_tokens: false }).ids);
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    if (ids.length === 0) return '';
    return this.guarded('decode', () => this.tok.decode([...ids], { skip_special_tokens: skipSpecial }));
  }

  /** A call into the tokenizer library: what tokenizer.json makes it fail on is an InferError naming the file. */
  private guarded<T>(what: string, call: () => T): T {
    try {
      return call();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new InferError('tokenizer-mismatch', `${this.files.tokenizer}: could not ${what} (${why})`, {
        file: this.files.tokenizer,
      });
    }
  }

  /** Renders the chat template with add_generation_prompt (or returns the last content when there is none). */
  applyChatTemplate(messages: readonly ChatMessage[]): string {
    if (!this.template) return messages.map((m) => m.content).join('\n');
    const context = {
      messages,
      add_generation_prompt: true,
      bos_token: tokenContent(this.config.bos_token) ?? '',
      eos_token: tokenContent(this.config.eos_token) ?? '',
    };
    return renderChatTemplate(this.template, context, this.files.config);
  }
}
