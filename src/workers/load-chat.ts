/**
 * A model load in the evaluation worker: batch 1 loads the chat model (../browser/cached-weights.ts
 * `loadThroughCache`); a batch size above 1 loads the batched graph's session only
 * (../infer/batch-chat.ts, one copy of the weights), planned for that many sequences, with its f16 /
 * q4 weights through the same cache.
 */
import {
  type CachedWeightsOptions,
  type WeightsSource,
  cachedWeightsForLoad,
  loadThroughCache,
} from '../browser/cached-weights';
import type { ModelFolder } from '../core/io/byte-source';
import { BatchChatModel } from '../infer/batch-chat';
import type { ChatLoadOptions, ChatModel } from '../infer/engine';

export type LoadedChat = ChatModel | BatchChatModel;

export async function loadChat(
  folder: ModelFolder,
  opts: CachedWeightsOptions & Omit<ChatLoadOptions, 'onTensor' | 'prepared'>,
): Promise<{ chat: LoadedChat; source: WeightsSource; cached: boolean }> {
  if ((opts.batchSize ?? 1) <= 1) return loadThroughCache(folder, opts);
  const weights = await cachedWeightsForLoad(folder, opts);
  const { store: _store, onProgress, packQ4: _packQ4, ...loadOpts } = opts;
  const chat = await BatchChatModel.load(folder, {
    ...loadOpts,
    ...(weights.prepared && { prepared: weights.prepared }),
    onTensor: (d, n) => onProgress?.('packing', d, n),
  });
  return { chat, source: weights.source, cached: weights.cached };
}
