/**
 * A causal LM over the batched graph (./graph-batch.ts): `forward(ids, cache)` appends S tokens to
 * each of the cache's B sequences and returns the last new position's logits for each. The cache
 * is a set of rows, one per sequence, each with its own length; `regroup` makes a new batch from rows
 * of several caches (a sequence that joins after its own prefill, one that leaves), padded to the
 * longest. On WebGPU the cache stays in GPU buffers between decode steps (only the logits come
 * back); a regroup reads the rows it moves back to CPU memory and the next step uploads the new
 * batch. Caches from `forward` and `regroup` are freed with `releaseCache`.
 */
import type * as Ort from 'onnxruntime-web';
import { Checkpoint } from '../core/formats/checkpoint';
import type { ModelFolder } from '../core/io/byte-source';
import type { ModelSpec } from './architecture';
import { InferError } from './errors';
import type { BuiltGraph } from './graph';
import { type BatchCache, type KvData, appendNewRows, kvCapacity } from './batch-kv';
import { NEW_LENGTHS, PAST_LENGTHS, newKey } from './graph-batch';
import type { LoadPlan } from './load-plan';
import { type LoadOptions, emptyKvTensors, openGraphSession, specOf } from './model';
import { pastKey, pastValue, presentKey, presentValue } from './graph';
import type { EpReport, OrtModule } from './runtime';

export type { BatchCache } from './batch-kv';

/** One sequence of a batch cache. */
export interface CacheRow {
  readonly cache: BatchCache;
  readonly row: number;
}

export interface BatchForwardResult {
  /** [B, vocab] row-major: the last new position of each sequence. */
  readonly logits: Float32Array;
  readonly cache: BatchCache;
}

export interface BatchLoadOptions extends LoadOptions {
  /**
   * Keep the KV cache in the lab's arrays and take only each call's new rows from ORT (./batch-kv.ts);
   * default on the wasm EP (chosen, or reached by `auto`) with GroupQueryAttention. Off (and on
   * WebGPU, where the cache stays in GPU buffers): ORT returns the whole grown cache at every call.
   */
  newKvOutputs?: boolean;
}

export class BatchLM {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly spec: ModelSpec,
    readonly graph: BuiltGraph,
    readonly ep: EpReport,
    readonly plan: LoadPlan,
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    private readonly folder?: ModelFolder,
  ) {}

  /** The graph returns only new K/V rows, appended here (see BatchLoadOptions.newKvOutputs). */
  private get appendsKv(): boolean {
    return this.graph.outputNames.includes(newKey(0));
  }

  static async load(folder: ModelFolder, opts: BatchLoadOptions = {}): Promise<BatchLM> {
    return BatchLM.fromCheckpoint(await Checkpoint.open(folder, { requireConfig: true }), opts, folder);
  }

  /** `folder`: closed by `release` (file handles in Node). */
  static async fromCheckpoint(ckpt: Checkpoint, opts: BatchLoadOptions = {}, folder?: ModelFolder): Promise<BatchLM> {
    const s = await openGraphSession(ckpt, { ...opts, batch: true } as LoadOptions, (g) =>
      g.outputNames.filter((n) => n.startsWith('present.')),
    );
    return new BatchLM(specOf(ckpt), s.graph, s.report, s.plan, s.ort, s.session, folder);
  }

  /** `count` empty sequences (P = 0). */
  emptyCache(count = 1): BatchCache {
    const { kvHeads, headDim } = this.spec;
    const tensors = new Map<string, Ort.Tensor>();
    for (const [name, t] of emptyKvTensors(this.ort, this.spec, this.graph.kvCache))
      tensors.set(name, new this.ort.Tensor(t.type as 'float32', t.data as Float32Array, [count, kvHeads, 0, headDim]));
    return { lengths: new Array<number>(count).fill(0), tensors };
  }

  /**
   * Appends `ids[b]` to sequence b of `cache` (rows of different lengths are padded on the right to
   * the longest) and returns the logits of each row's last token.
   */
  async forward(ids: readonly (readonly number[])[], cache: BatchCache): Promise<BatchForwardResult> {
    const B = cache.lengths.length;
    const S = Math.max(0, ...ids.map((row) => row.length));
    if (ids.length !== B || ids.some((row) => row.length === 0))
      throw new InferError('bad-options', `forward needs ${B} rows of at least one token`);
    const flat = new Int32Array(B * S); // padding: token 0, never attended to
    ids.forEach((row, b) => {
      if (cache.lengths[b]! + row.length > this.spec.maxContext)
        throw new InferError(
          'context-overflow',
          `${cache.lengths[b]! + row.length} tokens exceed the model's context of ${this.spec.maxContext}`,
        );
      row.forEach((id, i) => {
        if (!(id >= 0 && id < this.spec.vocab))
          throw new InferError(
            'tokenizer-mismatch',
            `token id ${id} is outside the vocabulary [0, ${this.spec.vocab})`,
          );
        flat[b * S + i] = id;
      });
    });
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new this.ort.Tensor('int32', flat, [B, S]),
      [NEW_LENGTHS]: new this.ort.Tensor(
        'int32',
        Int32Array.from(ids, (row) => row.length),
        [B],
      ),
      [PAST_LENGTHS]: new this.ort.Tensor('int32', Int32Array.from(cache.lengths), [B]),
    };
    for (const [k, t] of cache.tensors) feeds[k] = t;
    const run = this.queue.then(() => this.session.run(feeds));
    this.queue = run.catch(() => undefined);
    const out = await run;
    const logits = (await out.logits!.getData()) as Float32Array;
    const added = ids.map((row) => row.length);
    if (this.appendsKv) return { logits, cache: appendNewRows(this.ort, cache, out, added, this.spec.layers) };
    const next = new Map<string, Ort.Tensor>();
    for (let l = 0; l < this.spec.layers; l++) {
      next.set(pastKey(l), out[presentKey(l)]!);
      next.set(pastValue(l), out[presentValue(l)]!);
    }
    return { logits, cache: { lengths: cache.lengths.map((n, b) => n + added[b]!), tensors: next } };
  }

  /**
   * A new batch cache from rows of other caches, in this order, each copied with its own length
   * and zero-padded to the longest. The sources stay valid (free them with `releaseCache`).
   */
  async regroup(rows: readonly CacheRow[]): Promise<BatchCache> {
    const { kvHeads: kvH, headDim: D } = this.spec;
    const lengths = rows.map((r) => r.cache.lengths[r.row]!);
    // Appending caches get room for the coming steps (./batch-kv.ts); ORT's present is exactly as long as the longest.
    const P = this.appendsKv ? kvCapacity(Math.max(0, ...lengths) + 1) : Math.max(0, ...lengths);
    const tensors = new Map<string, Ort.Tensor>();
    const read = new Map<Ort.Tensor, KvData>(); // GPU tensors are read back once, whatever rows they give
    const dataOf = async (t: Ort.Tensor): Promise<KvData> => {
      let data = read.get(t);
      if (!data) read.set(t, (data = (t.location === 'gpu-buffer' ? await t.getData() : t.data) as KvData));
      return data;
    };
    for (const name of rows[0]?.cache.tensors.keys() ?? []) {
      const first = rows[0]!.cache.tensors.get(name)!;
      const Data = (await dataOf(first)).constructor as new (n: number) => KvData;
      const out = new Data(rows.length * kvH * P * D);
      for (const [r, { cache, row }] of rows.entries()) {
        const src = cache.tensors.get(name)!;
        const data = await dataOf(src);
        const srcP = src.dims[2]!;
        const n = lengths[r]! * D;
        for (let h = 0; h < kvH; h++) {
          const from = (row * kvH + h) * srcP * D;
          out.set(data.subarray(from, from + n), (r * kvH + h) * P * D);
        }
      }
      tensors.set(name, new this.ort.Tensor(first.type as 'float32', out, [rows.length, kvH, P, D]));
    }
    return { lengths, tensors };
  }

  /** Frees a cache's GPU buffers (WebGPU EP; a no-op in CPU memory). Do not use it afterwards. */
  releaseCache(cache: BatchCache | undefined): void {
    for (const t of cache?.tensors.values() ?? []) if (t.location === 'gpu-buffer') t.dispose();
  }

  async release(): Promise<void> {
    await this.session.release();
    await (this.folder as { close?: () => Promise<void> } | undefined)?.close?.();
  }
}
