/**
 * The one entry point for a merge: merge(recipe, sources, backend, output, options).
 * The CLI, the browser worker and the tests all call it.
 *
 * It streams tensor by tensor and, within a tensor, chunk by chunk: peak memory is a few chunks
 * per input model whatever the model size. The next chunk's bytes are read while the backend
 * works on the current one. Output goes through the sharded writer under temporary names and is
 * finalised only when every tensor is written; on error or cancel the partial files are removed.
 * Reading is in chunk-reader.ts, the per-tensor job a method sees in job.ts. With `workers`, the
 * tensors are merged by a pool of tensor workers instead (parallel/pool-run.ts): the same method
 * code on the workers' CPU backends, the same output bytes, each chunk written at its place.
 */
import { LabError, type LabWarning, MergeError, isAbortError, throwIfAborted } from '../errors';
import type { Checkpoint } from '../formats/checkpoint';
import { DEFAULT_SHARD_BYTES, ShardedSafetensorsWriter, planShards } from '../formats/safetensors-writer';
import type { OutputFolder } from '../io/output-folder';
import { emitRecipe } from '../recipe/parse';
import type { Recipe } from '../recipe/types';
import type { ActivationStats } from './activation-stats';
import type { TensorBackend } from './backend';
import { ChunkReader } from './chunk-reader';
import type { SpectrumDiagnostics, TensorDiagnostics } from './diagnostics';
import { ChunkedTensorJob } from './job';
import { resolveTokenizerSource, writeExtras } from './output-extras';
import { MAX_TENSOR_ATTEMPTS, runPooled } from './parallel/pool-run';
import { type TensorWorkerPool, atTensor } from './parallel/protocol';
import { runMethod } from './parallel/run-method';
import { planMerge } from './plan';

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
  /** Called once per finished tensor with its diagnostics (thresholds, SLERP coefficients, kept ranks…). */
  onTensor?: (name: string, diagnostics: TensorDiagnostics) => void;
  /** SVD merges: the singular-value spectrum of each task vector (or residual) of each 2-D weight, for plots. */
  onSpectrum?: (d: SpectrumDiagnostics) => void;
  /** Spend extra passes on per-tensor diagnostics (norms, cosines, sign conflicts); default off. */
  diagnostics?: boolean;
  /** Activation statistics for a recipe with `aim` (see activation-stats.ts). */
  activationStats?: ActivationStats;
  /**
   * Merge the tensors on these workers (CPU backends in worker threads or Web Workers) instead of
   * on `backend`; the output is the same, byte for byte.
   */
  workers?: TensorWorkerPool;
}

export interface MergeSummary {
  readonly method: string;
  readonly backend: string;
  readonly tensors: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly ms: number;
  /** Non-fatal notes about the plan: tensors left out, fallbacks, padded vocabularies… */
  readonly warnings: readonly LabWarning[];
  readonly files: readonly string[];
  /** Per output tensor, what the method measured and decided. */
  readonly diagnostics: Readonly<Record<string, TensorDiagnostics>>;
}

/** A backend's own failure on tensor `tensor`, reported against it; a lost GPU device says what to do next. */
function backendFailure(e: Error, backend: string, tensor: string): MergeError {
  const detail =
    e instanceof LabError && e.code === 'device-lost'
      ? `the GPU device was lost while merging this tensor on ${backend}: ${e.message} Nothing of this merge is kept: run it again, or merge on the CPU.`
      : `merging on ${backend} failed: ${e.message}`;
  return new MergeError('backend', detail, tensor, e);
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
  throwIfAborted(opts.signal, 'merge');
  const plan = planMerge(recipe, sources, opts.activationStats);
  const tokenizerFrom = resolveTokenizerSource(recipe, sources, plan);
  const shards = planShards(
    plan.tensors.map((t) => ({ name: t.name, dtype: t.outDtype, shape: t.shape })),
    opts.shardBytes ?? DEFAULT_SHARD_BYTES,
  );
  const writer = new ShardedSafetensorsWriter(out, shards, {
    format: 'pt',
    merged_by: 'merge-lab',
    merge_recipe: emitRecipe(recipe),
  });
  const chunkElements = Math.max(
    1,
    opts.chunkElements ?? backend.chunkElementsFor?.(plan.spec) ?? backend.maxChunkElements,
  );
  const bytesTotal = plan.bytesIn + plan.bytesOut;
  let bytesDone = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  const diagnostics: Record<string, TensorDiagnostics> = {};
  let tensorsDone = 0;
  /** Notes about the run itself (a worker restarted), after the plan's. */
  const runWarnings: LabWarning[] = [];

  const report = (tensorsDone: number, currentTensor: string) => {
    const elapsedMs = now() - started;
    const etaMs = bytesDone > 0 ? (elapsedMs * (bytesTotal - bytesDone)) / bytesDone : undefined;
    opts.onProgress?.({
      tensorsDone,
      tensorsTotal: plan.tensors.length,
      currentTensor,
      bytesDone,
      bytesTotal,
      elapsedMs,
      etaMs,
    });
  };

  const othersFree = backend.onBytesFree; // the single-threaded merge points it at its reader meanwhile
  try {
    if (opts.workers) {
      await runPooled({
        plan,
        pool: opts.workers,
        chunkElements,
        seed: recipe.randomSeed,
        diagnose: opts.diagnostics ?? false,
        signal: opts.signal,
        // Each chunk at its place as it comes; tensors are done in plan order, so the count only grows.
        write: async (ti, offset, bytes) => {
          await writer.writeTensorAt(ti, offset, bytes);
          bytesWritten += bytes.byteLength;
          bytesDone += bytes.byteLength;
          report(tensorsDone, plan.tensors[ti]!.name);
        },
        tensorDone: (ti, d) => {
          const name = plan.tensors[ti]!.name;
          diagnostics[name] = d;
          opts.onTensor?.(name, d);
          tensorsDone = ti + 1;
          report(tensorsDone, name);
        },
        counted: (n) => {
          bytesRead += n;
          bytesDone += n;
        },
        onSpectrum: opts.onSpectrum,
        onRetry: (tensor, attempt, why) =>
          runWarnings.push({
            code: 'worker-restarted',
            tensor,
            message: `a merge worker stopped while merging ${tensor} (${why}); merged again on a new worker (try ${attempt} of ${MAX_TENSOR_ATTEMPTS})`,
          }),
      });
    } else {
      const reader = new ChunkReader(plan.tensors, chunkElements, backend.inputBuffers);
      // Buffers the backend is done with go back to the reader, for its next reads.
      backend.onBytesFree = (buffer) => reader.buffers.recycle(buffer);
      for (let ti = 0; ti < plan.tensors.length; ti++) {
        const tp = plan.tensors[ti]!;
        throwIfAborted(opts.signal, 'merge');
        await writer.begin(tp.name);
        const job = new ChunkedTensorJob({
          tensor: tp,
          index: ti,
          backend,
          reader,
          chunkElements,
          seed: recipe.randomSeed,
          diagnose: opts.diagnostics ?? false,
          onSpectrum: opts.onSpectrum,
          onRead: (n) => {
            bytesRead += n;
            bytesDone += n;
          },
          onChunkOut: async (bytes) => {
            throwIfAborted(opts.signal, 'merge');
            await writer.write(bytes);
            bytesWritten += bytes.byteLength;
            bytesDone += bytes.byteLength;
            if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
              backend.reuseOutput?.(bytes.buffer as ArrayBuffer);
            report(ti, tp.name);
          },
        });
        try {
          await runMethod(job, plan.spec);
        } catch (e) {
          // Errors that say where they are (a truncated shard, a bad recipe value) and cancels pass as they are;
          // anything else (a lost GPU device, a backend bug) is reported against the tensor being merged.
          if (isAbortError(e) || e instanceof MergeError || (e instanceof LabError && (e.file || e.tensor || e.field)))
            throw atTensor(e, tp.name);
          throw backendFailure(e as Error, backend.name, tp.name);
        } finally {
          job.dispose();
        }
        diagnostics[tp.name] = job.diagnostics;
        opts.onTensor?.(tp.name, job.diagnostics);
        report(ti + 1, tp.name);
      }
    }
    await writeExtras(writer, plan, recipe, tokenizerFrom);
    throwIfAborted(opts.signal, 'merge');
    await writer.finalize();
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    backend.onBytesFree = othersFree;
  }
  return {
    method: recipe.mergeMethod,
    backend: opts.workers
      ? `${opts.workers.backend === 'cpu' ? 'cpu' : 'cpu-reference'} × ${Math.min(opts.workers.size, plan.tensors.length)} workers`
      : backend.name,
    tensors: plan.tensors.length,
    bytesRead,
    bytesWritten,
    ms: now() - started,
    warnings: [...plan.warnings, ...runWarnings],
    files: writer.files,
    diagnostics,
  };
}
