/**
 * The merge worker: the one merge entry point (src/core/merge/execute.ts) on the WebGPU backend
 * (CPU reference as fallback), exposed with comlink. Inputs arrive as Files/Blobs (read lazily, by
 * range) or transferred Uint8Arrays; output files come back transferred; progress goes through a
 * proxied callback; cancel() aborts the running merge. Errors cross the port as LabErrors with
 * their code, file and tensor (workers/errors.ts); a cancelled merge rejects with an AbortError.
 * `createMergeWorkerApi` is the whole API, so tests can expose it over a MessageChannel in Node.
 */
import { expose, transfer } from 'comlink';
import type { DType } from '../core/dtype';
import { type LabWarning, MergeError, describeError } from '../core/errors';
import { Checkpoint } from '../core/formats/checkpoint';
import { MapModelFolder } from '../core/io/byte-source';
import { DirectoryOutputFolder } from '../browser/directory-output';
import { MemoryOutputFolder } from '../core/io/output-folder';
import { parseActivationStats } from '../core/merge/activation-stats';
import type { TensorBackend } from '../core/merge/backend';
import { CpuBackend } from '../core/merge/cpu-backend';
import { type MergeProgress, type MergeSummary, merge } from '../core/merge/execute';
import { parseRecipe } from '../core/recipe/parse';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../core/merge/diagnostics';
import { WebGpuBackend } from '../gpu/backend';
import { type DareProbeArgs, DEFAULT_DARE_PROBE, dareProbeBytes } from '../gpu/dare-probe';
import { type AdapterReport, acquireGpuDevice, browserGpu } from '../gpu/device';
import { installLabErrorTransfer } from './errors';

installLabErrorTransfer();

export interface WorkerMergeRequest {
  /** The recipe, as YAML. */
  recipe: string;
  /** Model reference (as named in the recipe) → file name → contents. */
  models: Record<string, Record<string, Blob | Uint8Array>>;
  backend?: 'auto' | 'webgpu' | 'cpu';
  chunkElements?: number;
  shardBytes?: number;
  /**
   * Write the output into this folder of the origin-private file system and return disk-backed
   * Files, so multi-GB merges never sit in one ArrayBuffer. Without it: in memory (small models, tests).
   */
  opfsFolder?: string;
  /** Activation statistics JSON for a recipe with `aim`. */
  activationStats?: string;
}

export interface WorkerMergeResult {
  summary: MergeSummary;
  /** Which backend ran, and why (adapter name, or the reason for the CPU fallback). */
  backendNotice: string;
  /** The recipe's warnings, then the merge's. */
  warnings: LabWarning[];
  /** Output files (safetensors shards, index, config, tokenizer files): OPFS Files, or transferred bytes. */
  files: Record<string, Blob | Uint8Array>;
}

export type ProgressCallback = (p: MergeProgress) => void | Promise<void>;
/** Per-tensor diagnostics as each tensor finishes (turns diagnostics on). */
export type TensorCallback = (name: string, diagnostics: TensorDiagnostics) => void | Promise<void>;
/** SVD merges: each decomposed matrix's singular-value spectrum. */
export type SpectrumCallback = (d: SpectrumDiagnostics) => void | Promise<void>;

export function createMergeWorkerApi(getGpu: () => Promise<GPU | undefined> = async () => browserGpu()) {
  let active: AbortController | undefined;

  async function pickBackend(
    choice: WorkerMergeRequest['backend'] = 'auto',
  ): Promise<{ backend: TensorBackend<unknown>; notice: string }> {
    if (choice === 'cpu') return { backend: new CpuBackend() as TensorBackend<unknown>, notice: 'cpu (reference)' };
    try {
      const be = await WebGpuBackend.create(await getGpu());
      return { backend: be as TensorBackend<unknown>, notice: be.name };
    } catch (e) {
      if (choice === 'webgpu') throw e;
      return { backend: new CpuBackend() as TensorBackend<unknown>, notice: `cpu (no WebGPU: ${describeError(e)})` };
    }
  }

  return {
    /** The adapter a merge would use, or why there is none. */
    async gpuInfo(): Promise<AdapterReport | { error: string }> {
      try {
        return (await acquireGpuDevice(await getGpu())).adapter;
      } catch (e) {
        return { error: describeError(e) };
      }
    },

    async merge(
      req: WorkerMergeRequest,
      onProgress?: ProgressCallback,
      onTensor?: TensorCallback,
      onSpectrum?: SpectrumCallback,
    ): Promise<WorkerMergeResult> {
      if (active) throw new MergeError('busy', 'a merge is already running in this worker');
      const ac = new AbortController();
      active = ac;
      const { backend, notice } = await pickBackend(req.backend);
      try {
        const { recipe, warnings } = parseRecipe(req.recipe);
        const sources = new Map<string, Checkpoint>();
        for (const [ref, files] of Object.entries(req.models))
          sources.set(ref, await Checkpoint.open(new MapModelFolder(ref, new Map(Object.entries(files)))));
        const out = req.opfsFolder ? await DirectoryOutputFolder.opfs(req.opfsFolder) : new MemoryOutputFolder('merge');
        let last = 0;
        const summary = await merge(recipe, sources, backend, out, {
          signal: ac.signal,
          ...(onSpectrum
            ? { onSpectrum: (d: SpectrumDiagnostics) => void Promise.resolve(onSpectrum(d)).catch(() => undefined) }
            : {}),
          ...(onTensor
            ? {
                diagnostics: true,
                onTensor: (name: string, d: TensorDiagnostics) =>
                  void Promise.resolve(onTensor(name, d)).catch(() => undefined),
              }
            : {}),
          ...(req.chunkElements ? { chunkElements: req.chunkElements } : {}),
          ...(req.shardBytes ? { shardBytes: req.shardBytes } : {}),
          ...(req.activationStats
            ? {
                activationStats: parseActivationStats(
                  req.activationStats,
                  recipe.aim?.calibration ?? 'activation statistics',
                ),
              }
            : {}),
          onProgress: (p) => {
            const t = Date.now();
            if (!onProgress || (t - last < 50 && p.tensorsDone < p.tensorsTotal)) return;
            last = t;
            void Promise.resolve(onProgress(p)).catch(() => undefined); // fire and forget across the port
          },
        });
        const files: Record<string, Blob | Uint8Array> = Object.fromEntries(
          out instanceof DirectoryOutputFolder ? await out.files() : out.files,
        );
        const result: WorkerMergeResult = {
          summary,
          backendNotice: notice,
          warnings: [...warnings, ...summary.warnings],
          files,
        };
        const buffers = Object.values(files).flatMap((f) => (f instanceof Uint8Array ? [f.buffer as ArrayBuffer] : []));
        return transfer(result, [...new Set(buffers)]);
      } finally {
        active = undefined;
        await backend.dispose?.();
      }
    },

    /** Cancels the running merge (it rejects with an AbortError). */
    cancel(): void {
      active?.abort();
    },

    /** The DARE probe's output bytes on this worker's WebGPU backend (see src/gpu/dare-probe.ts). */
    async dareBytes(
      args: DareProbeArgs = DEFAULT_DARE_PROBE,
      backend: 'webgpu' | 'cpu' = 'webgpu',
    ): Promise<Uint8Array> {
      const { backend: be } = await pickBackend(backend);
      try {
        const bytes = await dareProbeBytes(be, args);
        return transfer(bytes, [bytes.buffer as ArrayBuffer]);
      } finally {
        await be.dispose?.();
      }
    },
  };
}

export type MergeWorkerApi = ReturnType<typeof createMergeWorkerApi>;
export type { DareProbeArgs, DType };

declare const WorkerGlobalScope: { new (): unknown } | undefined;
if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' && self instanceof WorkerGlobalScope)
  expose(createMergeWorkerApi());
