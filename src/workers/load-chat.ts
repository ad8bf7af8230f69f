/**
 * A model load in the evaluation worker, its f16 / q4 weights through the cache
 * (../browser/cached-weights.ts `loadThroughCache`): batch 1 loads the chat model; a batch size
 * above 1 loads the batched graph's session only (../infer/batch-chat.ts, one copy of the weights),
 * planned for that many sequences.
 */
import { type CachedWeightsOptions, type WeightsSource, loadThroughCache } from '../browser/cached-weights';
import type { ModelFolder } from '../core/io/byte-source';
import { BatchChatModel } from '../infer/batch-chat';
import type { ChatLoadOptions, ChatModel } from '../infer/engine';

export type LoadedChat = ChatModel | BatchChatModel;

export function loadChat(
  folder: ModelFolder,
  opts: CachedWeightsOptions & Omit<ChatLoadOptions, 'onTensor' | 'prepared'>,
): Promise<{ chat: LoadedChat; source: WeightsSource; cached: boolean }> {
  return (opts.batchSize ?? 1) <= 1
    ? loadThroughCache(folder, opts)
    : loadThroughCache(folder, opts, (f, o) => BatchChatModel.load(f, o));
}
