/**
 * f16 / q4 weights for a load in the page, through a cache of prepared weights (the OPFS cache,
 * ./opfs-weights-cache.ts): the checkpoint's content key is hashed (streamed, with progress), a
 * complete entry with the manifest this graph needs is reused; otherwise the weights are packed
 * (with progress and cancel) and written to the cache for the next load. A cache that cannot be
 * opened or written (no OPFS, quota) costs a LabWarning and nothing else. In a worker, where the
 * checkpoint's Blobs read synchronously, packing streams into the entry tensor by tensor and the
 * load reads the entry in place (../infer/on-demand-weights.ts): no copy of the packed weights is
 * held beside the runtime's. Elsewhere they are packed in memory and handed to the load from there.
 *
 * `loadThroughCache` is the whole load: these weights, then ChatModel.load over them.
 *
 * Cheap refusals come first: a block size the shapes cannot use (InferError naming the tensor)
 * and a model that does not fit (the memory plan) fail before a byte is hashed or packed.
 */
import { type LabWarning, isAbortError } from '../core/errors';
import { Checkpoint } from '../core/formats/checkpoint';
import { MapModelFolder, type ModelFolder } from '../core/io/byte-source';
import { cacheEntryName, checkpointContentKey } from '../infer/content-key';
import { ChatModel, type ChatLoadOptions } from '../infer/engine';
import { InferError } from '../infer/errors';
import { buildGraph } from '../infer/graph';
import { type PlanLoadOptions, checkLoadPlan } from '../infer/load-plan';
import { specOf, weightRefs } from '../infer/model';
import type { ProduceOptions } from '../infer/derived-weights';
import { type PiecewiseFile, canProduceOnDemand, onDemandFiles } from '../infer/on-demand-weights';
import { MANIFEST_NAME, type PreparedWeights, weightsManifest } from '../infer/prepared-weights';
import { resolvePrecision } from '../infer/precision';
import { chooseEp } from '../infer/runtime';
import { resolveWeightOptions } from '../infer/weight-format';
import type { WeightsStore } from './opfs-weights-cache';

/** Where a load's weights came from: the checkpoint itself (f32), the cache, or packed now. */
export type WeightsSource = 'checkpoint' | 'cache' | 'packed';

export type LoadStage = 'hashing' | 'packing' | 'caching';

export interface CachedWeightsOptions extends Omit<PlanLoadOptions, 'onPlan' | 'onWarning'> {
  signal?: AbortSignal;
  /** The cache; a rejection (no OPFS) means packing without caching. */
  store: () => Promise<WeightsStore>;
  /** Bytes hashed or tensors packed so far, of the total. */
  onProgress?: (stage: LoadStage, done: number, total: number) => void;
  onWarning?: (w: LabWarning) => void;
  /** Packs q4 blocks for the cache (the WGSL packer on the page's GPU); default the CPU spec. */
  packQ4?: ProduceOptions['packQ4'];
}

export interface CachedWeights {
  source: WeightsSource;
  /** packed: whether the weights were written to the cache for the next load. */
  cached: boolean;
  prepared?: PreparedWeights;
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function cachedWeightsForLoad(folder: ModelFolder, opts: CachedWeightsOptions): Promise<CachedWeights> {
  const { format, blockSize } = resolveWeightOptions(opts);
  if (format === 'f32') return { source: 'checkpoint', cached: false };
  const ckpt = await Checkpoint.open(folder, { requireConfig: true });
  const spec = specOf(ckpt);
  // The graph the load will build (../infer/model.ts openGraphSession): the same EP decision and precision.
  const decision = await chooseEp(opts.ep ?? 'auto', opts.adapter);
  const precision = resolvePrecision(opts, decision);
  const graph = buildGraph(spec, weightRefs(ckpt), { ...opts, kvCache: precision.kvCache, compute: precision.compute });
  const { onWarning: _warn, ...planOpts } = opts;
  await checkLoadPlan(spec, planOpts, ckpt.name, { decision, precision }); // its warnings come once, from the load
  const derived = graph.derived!;
  const key = await checkpointContentKey(folder, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (d, n) => opts.onProgress?.('hashing', d, n),
  });
  const manifest = weightsManifest(derived, key, format, blockSize);
  const entry = cacheEntryName(key, { weights: format, blockSize });
  const warn = (what: string, e: unknown) =>
    opts.onWarning?.({
      code: 'weights-cache-unavailable',
      message: `the weights cache ${what} (${why(e)}): the ${format} weights are packed for this load only`,
    });
  let store: WeightsStore | undefined;
  try {
    store = await opts.store();
    const hit = await store.find(entry, manifest);
    if (hit) return { source: 'cache', cached: true, prepared: { dir: hit, key } };
  } catch (e) {
    warn(store ? 'could not be read' : 'is not available', e);
    store = undefined;
  }
  // Where the checkpoint reads synchronously (Blobs in this worker), the weights are packed as they
  // are written to the cache, one tensor at a time, and the load then reads the entry in place.
  const onTensor = (d: number, n: number) => opts.onProgress?.('packing', d, n);
  const { packQ4 } = opts;
  const lazy = canProduceOnDemand(derived, ckpt);
  if (lazy && !store) return { source: 'packed', cached: false }; // the load makes them as it reads them
  // With a GPU packer (the WGSL kernel), each file is packed asynchronously as it is written.
  const piecewise = (location: string, i: number): { path: string; data: PiecewiseFile } => ({
    path: location,
    data: {
      byteLength: derived.fileBytes[i]!,
      pieces: (signal) => derived.filePieces(ckpt, location, { packQ4, onTensor, ...(signal && { signal }) }),
    },
  });
  const files =
    packQ4 && store
      ? derived.locations.map(piecewise)
      : lazy
        ? onDemandFiles(derived, ckpt, onTensor)
        : await derived.materialize(ckpt, { ...(opts.signal ? { signal: opts.signal } : {}), onTensor });
  let cached = false;
  if (store) {
    try {
      if (!lazy) opts.onProgress?.('caching', 0, 1); // lazily, the packing progress is the writing's
      await store.store(entry, files, manifest, opts.signal);
      cached = true;
      opts.onProgress?.('caching', 1, 1);
      const written = lazy || packQ4 ? await store.find(entry, manifest) : undefined;
      if (written) return { source: 'packed', cached, prepared: { dir: written, key } };
    } catch (e) {
      if (isAbortError(e)) throw e;
      warn('could not be written', e);
    }
  }
  if (lazy) return { source: 'packed', cached }; // not cached: the load makes them as it reads them
  if (files.some((f) => !(f.data instanceof Uint8Array))) return { source: 'packed', cached }; // ditto, from memory
  const inMemory = new Map<string, Uint8Array>(files.map((f) => [f.path, f.data as Uint8Array]));
  inMemory.set(MANIFEST_NAME, new TextEncoder().encode(JSON.stringify(manifest)));
  return { source: 'packed', cached, prepared: { dir: new MapModelFolder(`${folder.name} (packed)`, inMemory), key } };
}

/**
 * A model load (ChatModel.load by default; the batched BatchChatModel.load takes the same options)
 * with its f16 / q4 weights through the cache. A cached entry the load's graph does not accept
 * (the lab's layout moved on) is passed over with a warning and packed in the load.
 */
export async function loadThroughCache<M = ChatModel>(
  folder: ModelFolder,
  opts: CachedWeightsOptions & Omit<ChatLoadOptions, 'onTensor' | 'prepared'>,
  loader: (folder: ModelFolder, opts: ChatLoadOptions) => Promise<M> = ChatModel.load as never,
): Promise<{ chat: M; source: WeightsSource; cached: boolean }> {
  const weights = await cachedWeightsForLoad(folder, opts);
  const { store: _store, onProgress, packQ4: _packQ4, ...loadOpts } = opts;
  const load = (prepared?: PreparedWeights) =>
    loader(folder, {
      ...loadOpts,
      ...(prepared && { prepared }),
      onTensor: (d, n) => onProgress?.('packing', d, n),
    });
  const dir = weights.prepared?.dir.name;
  try {
    return { chat: await load(weights.prepared), source: weights.source, cached: weights.cached };
  } catch (e) {
    if (!dir || !(e instanceof InferError) || e.code !== 'missing-file' || !e.file?.startsWith(dir)) throw e;
    opts.onWarning?.({ code: 'prepared-weights-mismatch', message: `${e.message}; packing the weights again` });
    return { chat: await load(), source: 'packed', cached: false };
  }
}
