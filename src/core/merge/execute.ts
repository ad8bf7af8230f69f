/**
 * The one entry point for a merge: merge(recipe, sources, backend, output, options).
 * The CLI, the browser worker and the tests all call it.
 *
 * It streams tensor by tensor and, within a tensor, chunk by chunk: peak memory is a few chunks
 * per input model whatever the model size. The next chunk's bytes are read while the backend
 * works on the current one. Output goes through the sharded writer under temporary names and is
 * finalised only when every tensor is written; on error or cancel the partial files are removed.
 */
import { type DType, decodeToF32, encodeFromF32, itemSize, recipeDTypeName } from '../dtype';
import { CheckpointError, MergeError, RecipeError, SafetensorsError, throwIfAborted } from '../errors';
import { type Checkpoint, TOKENIZER_FILES } from '../formats/checkpoint';
import { DEFAULT_SHARD_BYTES, ShardedSafetensorsWriter, planShards } from '../formats/safetensors-writer';
import type { OutputFolder } from '../io/output-folder';
import { emitRecipe } from '../recipe/parse';
import type { Recipe } from '../recipe/types';
import type { ActivationStats } from './activation-stats';
import type { TensorBackend } from './backend';
import { mergeLinear } from './methods/linear';
import { mergeSlerp } from './methods/slerp';
import type { SpectrumDiagnostics } from './methods/svd-common';
import { mergeSvdFamily } from './methods/svd-merge';
import { mergeTaskVectors } from './methods/task-arithmetic';
import { type MergePlan, type TensorPlan, planMerge } from './plan';
import type { TensorJob } from './tensor-job';

export interface MergeProgress {
  readonly tensorsDone: number;
  readonly tensorsTotal: number;
  readonly currentTensor: string;
  /** Bytes read from the inputs plus bytes written, so far and in all. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly elapsedMs: number;
  readonly etaMs: number | undefined;
}

export interface MergeOptions {
  onProgress?: (p: MergeProgress) => void;
  signal?: AbortSignal;
  shardBytes?: number;
  /** Overrides the backend's chunk size (elements). */
  chunkElements?: number;
  /** Called once per finished tensor with its statistics (thresholds, SLERP coefficients…). */
  onTensor?: (name: string, notes: Record<string, number>) => void;
  /** SVD merges: the singular-value spectrum of each task vector (or residual) of each 2-D weight, for plots. */
  onSpectrum?: (d: SpectrumDiagnostics) => void;
  /** Spend extra passes on per-tensor diagnostics (norms, cosines, sign conflicts); default off. */
  diagnostics?: boolean;
  /** Activation statistics for a recipe with `aim` (see activation-stats.ts). */
  activationStats?: ActivationStats;
}

export interface MergeSummary {
  readonly method: string;
  readonly backend: string;
  readonly tensors: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly ms: number;
  readonly warnings: readonly string[];
  readonly files: readonly string[];
  readonly notes: Readonly<Record<string, Record<string, number>>>;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export async function merge<T>(
  recipe: Recipe,
  sources: ReadonlyMap<string, Checkpoint>,
  backend: TensorBackend<T>,
  out: OutputFolder,
  opts: MergeOptions = {},
): Promise<MergeSummary> {
  const started = now();
  throwIfAborted(opts.signal);
  const plan = planMerge(recipe, sources, opts.activationStats);
  if (plan.tensors.some((t) => t.aim) && !backend.aimScale) throw new MergeError('backend', `the ${backend.name} backend cannot apply AIM`);
  const tokenizerFrom = resolveTokenizerSource(recipe, sources, plan);
  const shards = planShards(
    plan.tensors.map((t) => ({ name: t.name, dtype: t.outDtype, shape: t.shape })),
    opts.shardBytes ?? DEFAULT_SHARD_BYTES,
  );
  const writer = new ShardedSafetensorsWriter(out, shards, { format: 'pt', merged_by: 'merge-lab', merge_recipe: emitRecipe(recipe) });
  const chunkElements = Math.max(1, opts.chunkElements ?? backend.maxChunkElements);
  const bytesTotal = plan.bytesIn + plan.bytesOut;
  let bytesDone = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  const notes: Record<string, Record<string, number>> = {};

  const report = (tensorsDone: number, currentTensor: string) => {
    const elapsedMs = now() - started;
    const etaMs = bytesDone > 0 ? (elapsedMs * (bytesTotal - bytesDone)) / bytesDone : undefined;
    opts.onProgress?.({ tensorsDone, tensorsTotal: plan.tensors.length, currentTensor, bytesDone, bytesTotal, elapsedMs, etaMs });
  };

  try {
    const reader = new ChunkReader(plan.tensors, chunkElements);
    const chunkOf = (tp: TensorPlan) => tensorChunk(tp, chunkElements);
    for (let ti = 0; ti < plan.tensors.length; ti++) {
      const tp = plan.tensors[ti]!;
      throwIfAborted(opts.signal);
      await writer.begin(tp.name);
      const tensorNotes: Record<string, number> = {};
      const job = makeJob(tp, ti, plan, backend, reader, chunkOf(tp), recipe.randomSeed, tensorNotes, opts.diagnostics ?? false, {
        ...(opts.onSpectrum ? { onSpectrum: opts.onSpectrum } : {}),
        onRead: (n) => {
          bytesRead += n;
          bytesDone += n;
        },
        onChunkOut: async (bytes) => {
          throwIfAborted(opts.signal);
          await writer.write(bytes);
          bytesWritten += bytes.byteLength;
          bytesDone += bytes.byteLength;
          report(ti, tp.name);
        },
      });
      try {
        await runMethod(job, plan);
      } catch (e) {
        // Typed errors (a truncated shard, a bad recipe value) keep their type and file name.
        if (e instanceof MergeError || e instanceof RecipeError || e instanceof SafetensorsError || e instanceof CheckpointError) throw e;
        throw new MergeError('backend', `merging on ${backend.name} failed: ${(e as Error).message}`, tp.name);
      } finally {
        job.dispose();
      }
      notes[tp.name] = tensorNotes;
      opts.onTensor?.(tp.name, tensorNotes);
      report(ti + 1, tp.name);
    }
    await writeExtras(writer, plan, recipe, tokenizerFrom);
    throwIfAborted(opts.signal);
    await writer.finalize();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  return {
    method: recipe.mergeMethod,
    backend: backend.name,
    tensors: plan.tensors.length,
    bytesRead,
    bytesWritten,
    ms: now() - started,
    warnings: plan.warnings,
    files: writer.files,
    notes,
  };
}

function runMethod<T>(job: TensorJob<T>, plan: MergePlan): Promise<void> {
  switch (plan.spec.family) {
    case 'task_vector':
      return mergeTaskVectors(job, plan.spec);
    case 'linear':
      return mergeLinear(job);
    case 'slerp':
      return mergeSlerp(job);
    case 'svd':
      return mergeSvdFamily(job, plan.spec, job.svd!);
  }
}

/** Elements per chunk of a tensor: SVD merges take their 2-D weights whole. */
function tensorChunk(tp: TensorPlan, chunkElements: number): number {
  return tp.svd && tp.svd.fallback === undefined ? Math.max(chunkElements, tp.numel) : chunkElements;
}

/** Reads chunk bytes of every input, one chunk ahead of the consumer. */
class ChunkReader {
  private pending = new Map<string, Promise<Uint8Array[]>>();
  constructor(
    private readonly tensors: readonly TensorPlan[],
    private readonly chunkElements: number,
  ) {}

  private key(ti: number, c: number) {
    return `${ti}:${c}`;
  }

  private next(ti: number, c: number): [number, number] | undefined {
    const tp = this.tensors[ti]!;
    if ((c + 1) * tensorChunk(tp, this.chunkElements) < tp.numel) return [ti, c + 1];
    return ti + 1 < this.tensors.length ? [ti + 1, 0] : undefined;
  }

  private start(ti: number, c: number): Promise<Uint8Array[]> {
    const k = this.key(ti, c);
    let p = this.pending.get(k);
    if (!p) {
      p = readChunk(this.tensors[ti]!, c, tensorChunk(this.tensors[ti]!, this.chunkElements));
      p.catch(() => undefined); // surfaced when awaited
      this.pending.set(k, p);
    }
    return p;
  }

  /** The bytes of chunk c of tensor ti, per input; starts reading the following chunk. */
  async read(ti: number, c: number): Promise<Uint8Array[]> {
    const p = this.start(ti, c);
    this.pending.delete(this.key(ti, c));
    const nxt = this.next(ti, c);
    if (nxt) this.start(nxt[0], nxt[1]);
    return p;
  }
}

/** Chunk c of the given inputs (all by default): their storage bytes. */
async function readChunk(tp: TensorPlan, c: number, chunkElements: number, which?: readonly number[]): Promise<Uint8Array[]> {
  const start = c * chunkElements;
  const count = Math.min(chunkElements, tp.numel - start);
  const readInput = (i: number) => {
    const inp = tp.inputs[i]!;
    const have = Math.max(0, Math.min(count, inp.available - start));
    return have > 0 ? inp.tensor.file.readRange(inp.tensor.name, start, have) : Promise.resolve(new Uint8Array(0));
  };
  if (which) {
    // Only the asked-for inputs (selection passes): padding needs the base's bytes too.
    const short = which.some((i) => tp.inputs[i]!.available < start + count);
    const raw = await Promise.all(which.map(readInput));
    if (!short) return raw;
    const all = await readChunk(tp, c, chunkElements);
    return which.map((i) => all[i]!);
  }
  const raw = await Promise.all(tp.inputs.map((_, i) => readInput(i)));
  // vocab_policy: base — rows an input lacks take the base's (input 0) values.
  return raw.map((bytes, i) => {
    const inp = tp.inputs[i]!;
    const isize = itemSize(inp.tensor.dtype);
    if (bytes.byteLength === count * isize) return bytes;
    const base = tp.inputs[0]!;
    const filled = new Float32Array(count);
    filled.set(decodeToF32(bytes, inp.tensor.dtype));
    filled.set(decodeToF32(raw[0]!, base.tensor.dtype).subarray(bytes.byteLength / isize), bytes.byteLength / isize);
    return encodeFromF32(filled, inp.tensor.dtype);
  });
}

interface JobHooks {
  onSpectrum?: (d: SpectrumDiagnostics) => void;
  onRead(bytes: number): void;
  onChunkOut(bytes: Uint8Array): Promise<void>;
}

function makeJob<T>(
  tp: TensorPlan,
  ti: number,
  plan: MergePlan,
  backend: TensorBackend<T>,
  reader: ChunkReader,
  chunkElements: number,
  seed: number,
  tensorNotes: Record<string, number>,
  diagnose: boolean,
  hooks: JobHooks,
): TensorJob<T> & { dispose(): void } {
  const numChunks = Math.max(1, Math.ceil(tp.numel / chunkElements));
  let loadedChunk = -1;
  let loaded: T[] = [];
  let chunksCounted = 0;
  let aimScale: T | undefined;
  const releaseLoaded = () => {
    for (const h of loaded) backend.release(h);
    loaded = [];
    loadedChunk = -1;
  };
  const dispose = () => {
    releaseLoaded();
    if (aimScale) backend.release(aimScale);
    aimScale = undefined;
  };
  return {
    name: tp.name,
    numel: tp.numel,
    backend,
    chunkElements,
    numChunks,
    inputs: tp.inputs.map((i) => ({ model: i.model, params: i.params, stream: i.stream })),
    global: tp.global,
    shape: tp.shape,
    ...(tp.svd ? { svd: tp.svd } : {}),
    ...(hooks.onSpectrum ? { spectrum: hooks.onSpectrum } : {}),
    seed,
    diagnose,
    async loadInputs(c, which) {
      const bytes = await readChunk(tp, c, chunkElements, which);
      return Promise.all(bytes.map((b, k) => backend.load(b, tp.inputs[which[k]!]!.tensor.dtype)));
    },
    async load(c) {
      if (c === loadedChunk) return loaded;
      releaseLoaded();
      const bytes = tp.numel === 0 ? tp.inputs.map(() => new Uint8Array(0)) : await reader.read(ti, c);
      // Progress counts each chunk's bytes once, even when a multi-pass method re-reads it.
      if (c >= chunksCounted) {
        hooks.onRead(bytes.reduce((n, b) => n + b.byteLength, 0));
        chunksCounted = c + 1;
      }
      loaded = await Promise.all(bytes.map((b, i) => backend.load(b, tp.inputs[i]!.tensor.dtype)));
      loadedChunk = c;
      return loaded;
    },
    async emit(merged) {
      let out = merged;
      if (tp.aim) {
        // AIM post-step against θ₀ (input 0) of the chunk being emitted.
        const scale = (aimScale ??= await backend.load(encodeFromF32(tp.aim.scale, 'F32'), 'F32'));
        out = await backend.aimScale!(loaded[0]!, merged, scale, tp.aim.omega, loadedChunk * chunkElements, tp.aim.cols);
        backend.release(merged);
      }
      const bytes = await backend.store(out, tp.outDtype as DType);
      backend.release(out);
      await hooks.onChunkOut(bytes);
    },
    note(key, value) {
      tensorNotes[key] = value;
    },
    dispose,
  };
}

function resolveTokenizerSource(recipe: Recipe, sources: ReadonlyMap<string, Checkpoint>, plan: MergePlan): Checkpoint {
  const ref = recipe.tokenizerSource;
  if (!ref || ref === 'base') return plan.primary;
  const c = sources.get(ref);
  if (!c) throw new RecipeError('tokenizer_source', `model '${ref}' was not loaded`);
  return c;
}

async function writeExtras(writer: ShardedSafetensorsWriter, plan: MergePlan, recipe: Recipe, tokenizerFrom: Checkpoint): Promise<void> {
  const enc = new TextEncoder();
  for (const f of TOKENIZER_FILES) {
    const src = await tokenizerFrom.folder.open(f);
    if (src) await writer.writeExtra(f, await src.read(0, src.size));
  }
  const config: Record<string, unknown> = { ...(plan.primary.config?.raw ?? {}) };
  if (plan.primary.config) {
    config.tie_word_embeddings = plan.tieWordEmbeddings;
    const dtype = recipe.dtype ?? plan.tensors[0]?.outDtype;
    if (dtype) config.torch_dtype = recipeDTypeName(dtype);
  }
  await writer.writeExtra('config.json', enc.encode(JSON.stringify(config, null, 2) + '\n'));
}
