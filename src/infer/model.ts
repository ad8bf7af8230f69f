/**
 * A causal LM ready to run: checkpoint → spec → ONNX graph over the shards → ORT session.
 * `forward(ids, cache)` appends ids to the cache and returns their logits; prefill is one call
 * with the prompt, decoding is one call per token.
 */
import type * as Ort from 'onnxruntime-web';
import { Checkpoint } from '../core/formats/checkpoint';
import type { ModelFolder } from '../core/io/byte-source';
import { type ModelSpec, modelSpec } from './architecture';
import { throwIfAborted } from '../core/errors';
import { InferError } from './errors';
import { type BuiltGraph, type GraphOptions, pastKey, pastValue, presentKey, presentValue } from './graph';
import { type BatchGraphOptions, buildDecoderGraph } from './graph-batch';
import type { WeightRef } from './graph-writer';
import { type LoadPlan, type PlanLoadOptions, checkLoadPlan } from './load-plan';
import { resolvePrecision } from './precision';
import { segmentData, shardSegments } from './shard-segments';
import { canProduceOnDemand, onDemandFiles, unreadOnDemandBytes } from './on-demand-weights';
import { type PreparedWeights, readPreparedWeights } from './prepared-weights';
import { type EpName, type EpReport, type OrtModule, chooseEp, openSession } from './runtime';
import { type KvCacheDtype, resolveWeightOptions } from './weight-format';

/** The memory plan's options (EP, adapter, token budget, force, onPlan, onWarning) and the graph's. */
export interface LoadOptions extends GraphOptions, PlanLoadOptions {
  signal?: AbortSignal;
  /** Progress of making f16 / q4 weights: tensors done of total. */
  onTensor?: (done: number, total: number) => void;
  /** f16 / q4: a folder of prepared weights (`merge-lab quantize`, a cache) used instead of packing when it matches. */
  prepared?: PreparedWeights;
  /** f16 / q4: make the weights while the session reads them, when possible (default); false: whole files first. */
  onDemand?: boolean;
  /** f32: largest part of a shard mounted as one external-data file (default SEGMENT_BYTES; tests split with less). */
  shardSegmentBytes?: number;
}

/** The KV cache after some tokens: one [1, kvH, T, D] key and value tensor per layer (float32, or
 *  float16 with an f16 cache), in CPU memory (wasm EP) or in GPU buffers (WebGPU EP: free them with
 *  `releaseCache`). */
export interface KvCache {
  readonly length: number;
  readonly tensors: ReadonlyMap<string, Ort.Tensor>;
}

export interface ForwardResult {
  /** [rows, vocab] row-major: every new position with `allLogits`, else the last one. */
  readonly logits: Float32Array;
  readonly rows: number;
  readonly cache: KvCache;
}

/** Maps a checkpoint's tensors to external-data references into its own shard files. */
export function weightRefs(ckpt: Checkpoint, segmentBytes?: number): (name: string) => WeightRef | undefined {
  const { of } = shardSegments(ckpt, segmentBytes);
  return (name) => {
    const t = ckpt.tensor(name);
    const seg = of.get(name);
    return (
      t &&
      seg && {
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        location: seg.name,
        offset: t.offset - seg.start,
        byteLength: t.byteLength,
      }
    );
  };
}

/**
 * The external data a graph reads: the shards it mounts whole (f32), and the files of lab-made
 * weights (f16 / q4), read from a matching prepared folder or produced tensor by tensor.
 */
export async function graphExternalData(
  graph: BuiltGraph,
  ckpt: Checkpoint,
  opts: Pick<
    LoadOptions,
    'signal' | 'onTensor' | 'prepared' | 'onWarning' | 'weights' | 'blockSize' | 'onDemand' | 'shardSegmentBytes'
  > = {},
): Promise<{ path: string; data: Uint8Array }[]> {
  let externalData: { path: string; data: Uint8Array }[] = [];
  if (graph.derived) {
    const reused =
      opts.prepared &&
      (await readPreparedWeights(opts.prepared, graph.derived, resolveWeightOptions(opts), opts.onWarning));
    // Made while the session reads them where the checkpoint reads synchronously (./on-demand-weights.ts).
    const lazy = !reused && opts.onDemand !== false && canProduceOnDemand(graph.derived, ckpt);
    externalData =
      reused ||
      (lazy ? onDemandFiles(graph.derived, ckpt, opts.onTensor) : await graph.derived.materialize(ckpt, opts));
  }
  // The shards' segments the graph reads (./shard-segments.ts), each under its own name.
  const mounted = new Set(graph.locations);
  const segments = shardSegments(ckpt, opts.shardSegmentBytes).segments.filter((seg) => mounted.has(seg.name));
  for (const name of mounted)
    if (!segments.some((seg) => seg.name === name))
      throw new InferError('missing-file', `${ckpt.name}/${name}: missing`, { file: `${ckpt.name}/${name}` });
  externalData.push(...(await segmentData(segments, opts.signal)));
  return externalData;
}

/** Empty past tensors (P = 0) in the cache's dtype, one key and value per layer. */
export function emptyKvTensors(ort: OrtModule, spec: ModelSpec, kvCache: KvCacheDtype): Map<string, Ort.Tensor> {
  const { kvHeads, headDim, layers } = spec;
  const empty = () =>
    kvCache === 'f16'
      ? new ort.Tensor('float16', new Uint16Array(0), [1, kvHeads, 0, headDim])
      : new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  const tensors = new Map<string, Ort.Tensor>();
  for (let l = 0; l < layers; l++) {
    tensors.set(pastKey(l), empty());
    tensors.set(pastValue(l), empty());
  }
  return tensors;
}

export interface GraphSession {
  readonly graph: BuiltGraph;
  readonly plan: LoadPlan;
  readonly ort: OrtModule;
  readonly session: Ort.InferenceSession;
  readonly report: EpReport;
}

/**
 * A checkpoint's graph in an ORT session, in this order: the EP is decided (one adapter request)
 * and with it what runs in f16 (a forced f16 compute the EP cannot run is refused here); the graph
 * is built (shape errors); the memory plan refuses what does not fit; only then are weights read,
 * packed and handed to ORT. `gpuOutputs`: outputs left in GPU buffers on WebGPU.
 */
export async function openGraphSession(
  ckpt: Checkpoint,
  opts: LoadOptions,
  gpuOutputs: (graph: BuiltGraph) => readonly string[] = () => [],
): Promise<GraphSession> {
  const spec = specOf(ckpt);
  resolveWeightOptions(opts); // a bad option is refused before the adapter is requested
  const decision = await chooseEp(opts.ep ?? 'auto', opts.adapter);
  const precision = resolvePrecision(opts, decision);
  // The batched graph hands back only new K/V rows on wasm (./batch-kv.ts) unless told otherwise.
  const newKvOutputs = (ep: EpName) => (opts as BatchGraphOptions).newKvOutputs ?? ep === 'wasm';
  const build = (compute: typeof precision.compute, ep: EpName) =>
    buildDecoderGraph(spec, weightRefs(ckpt, opts.shardSegmentBytes), {
      ...opts,
      kvCache: precision.kvCache,
      compute,
      newKvOutputs: newKvOutputs(ep),
    });
  let builtFor = decision.ep;
  let graph = build(precision.compute, builtFor);
  // Refuses a model that does not fit before any weight is read, packed or handed to ORT.
  const plan = await checkLoadPlan(spec, opts, ckpt.name, { decision, precision });
  throwIfAborted(opts.signal, 'loading');
  const externalData = await graphExternalData(graph, ckpt, opts);
  // f16 compute runs on WebGPU only: should its session fail and `auto` fall back to wasm, the
  // same weights run through the f32-compute graph (and the batched graph takes wasm's K/V outputs).
  const forEp = (ep: EpName) => {
    const compute = ep === 'wasm' && graph.compute === 'f16' ? 'f32' : graph.compute;
    if (ep !== builtFor || compute !== graph.compute) [graph, builtFor] = [build(compute, ep), ep];
    return graph.model;
  };
  try {
    const opened = await openSession(forEp, externalData, decision.choice, opts.adapter, gpuOutputs(graph), decision);
    // Weights made on demand must all have been read that way; otherwise load them as whole files.
    if (unreadOnDemandBytes(graph.model, externalData) > 0) {
      await opened.session.release();
      opts.onWarning?.({
        code: 'on-demand-weights-unread',
        message: 'this onnxruntime-web did not read the weights as they were made; loading them as whole files',
      });
      return openGraphSession(ckpt, { ...opts, onDemand: false }, gpuOutputs);
    }
    return { graph, plan, ...opened };
  } catch (e) {
    if (e instanceof InferError) throw e;
    throw new InferError(
      'session',
      `onnxruntime-web could not create the session for ${ckpt.name}: ${(e as Error).message}`,
    );
  }
}

export function specOf(ckpt: Checkpoint): ModelSpec {
  if (!ckpt.config)
    throw new InferError('missing-file', `${ckpt.name}/config.json: missing; inference needs the model config`, {
      file: `${ckpt.name}/config.json`,
    });
  return modelSpec(ckpt.config, ckpt.tensor('model.layers.0.self_attn.q_proj.bias') !== undefined);
}

export class CausalLM {
  /** ORT sessions must not run concurrently: calls queue behind this. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly spec: ModelSpec,
    readonly graph: BuiltGraph,
    readonly ep: EpReport,
    /** The memory plan checked before the weights were read. */
    readonly plan: LoadPlan,
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
  ) {}

  static async load(folder: ModelFolder, opts: LoadOptions = {}): Promise<CausalLM> {
    const ckpt = await Checkpoint.open(folder, { requireConfig: true });
    return CausalLM.fromCheckpoint(ckpt, opts);
  }

  static async fromCheckpoint(ckpt: Checkpoint, opts: LoadOptions = {}): Promise<CausalLM> {
    // On WebGPU the grown cache stays on the GPU between steps (only the logits come back).
    const s = await openGraphSession(ckpt, opts, (g) => g.outputNames.filter((n) => n.startsWith('present.')));
    return new CausalLM(specOf(ckpt), s.graph, s.report, s.plan, s.ort, s.session);
  }

  /** An empty cache (P = 0), in the graph's KV dtype. */
  emptyCache(): KvCache {
    return { length: 0, tensors: emptyKvTensors(this.ort, this.spec, this.graph.kvCache) };
  }

  async forward(ids: ArrayLike<number>, cache: KvCache = this.emptyCache()): Promise<ForwardResult> {
    if (ids.length === 0) throw new InferError('context-overflow', 'forward needs at least one token');
    // Past max_position_embeddings runs on (generate warns); the sliding window is a hard limit.
    if (cache.length + ids.length > this.spec.maxContext)
      throw new InferError(
        'context-overflow',
        `${cache.length + ids.length} tokens exceed the model's context of ${this.spec.maxContext} ` +
          `(its sliding window: past it the model's attention differs from this graph's full attention)`,
      );
    for (let i = 0; i < ids.length; i++)
      if (!(ids[i]! >= 0 && ids[i]! < this.spec.vocab))
        throw new InferError(
          'tokenizer-mismatch',
          `token id ${ids[i]} is outside the vocabulary [0, ${this.spec.vocab})`,
        );
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new this.ort.Tensor('int32', Int32Array.from(ids), [ids.length]),
    };
    for (const [k, t] of cache.tensors) feeds[k] = t;
    const run = this.queue.then(() => this.session.run(feeds));
    this.queue = run.catch(() => undefined);
    const out = await run;
    const logitsT = out.logits!;
    const next = new Map<string, Ort.Tensor>();
    for (let l = 0; l < this.spec.layers; l++) {
      next.set(pastKey(l), out[presentKey(l)]!);
      next.set(pastValue(l), out[presentValue(l)]!);
    }
    const logits = (await logitsT.getData()) as Float32Array;
    return { logits, rows: logitsT.dims[0]!, cache: { length: cache.length + ids.length, tensors: next } };
  }

  /** Frees a cache's GPU buffers (WebGPU EP; a no-op for caches in CPU memory). Do not use it afterwards. */
  releaseCache(cache: KvCache): void {
    for (const t of cache.tensors.values()) if (t.location === 'gpu-buffer') t.dispose();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
