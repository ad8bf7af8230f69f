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
import { InferError } from '../infer/errors';
import type { PreparedWeights } from '../infer/prepared-weights';

export type LoadedChat = ChatModel | BatchChatModel;

export async function loadChat(
  folder: ModelFolder,
  opts: CachedWeightsOptions & Omit<ChatLoadOptions, 'onTensor' | 'prepared'>,
): Promise<{ chat: LoadedChat; source: WeightsSource; cached: boolean }> {
  if ((opts.batchSize ?? 1) <= 1) return loadThroughCache(folder, opts);
  const weights = await cachedWeightsForLoad(folder, opts);
  const { store: _store, onProgress, packQ4: _packQ4, ...loadOpts } = opts;
  const load = (prepared?: PreparedWeights) =>
    BatchChatModel.load(folder, {
      ...loadOpts,
      ...(prepared && { prepared }),
      onTensor: (d, n) => onProgress?.('packing', d, n),
    });
  const dir = weights.prepared?.dir.name;
  try {
    return { chat: await load(weights.prepared), source: weights.source, cached: weights.cached };
  } catch (e) {
    // As loadThroughCache: a cached entry this graph does not accept is passed over, the weights packed again.
    if (!dir || !(e instanceof InferError) || e.code !== 'missing-file' || !e.file?.startsWith(dir)) throw e;
    opts.onWarning?.({ code: 'prepared-weights-mismatch', message: `${e.message}; packing the weights again` });
    return { chat: await load(), source: 'packed', cached: false };
  }
}
