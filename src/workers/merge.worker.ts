/**
 * The merge worker: the one merge entry point (src/core/merge/execute.ts) on the WebGPU backend
 * (the fast CPU backend as fallback, its tensors spread over a pool of Web Workers, tensor-pool.ts),
 * exposed with comlink. Inputs arrive as Files/Blobs (read lazily, by
 * range) or transferred Uint8Arrays; output files come back transferred; progress goes through a
 * proxied callback; cancel() aborts the running merge. Errors cross the port as LabErrors with
 * their code, file and tensor (workers/errors.ts); a cancelled merge rejects with an AbortError.
 * A GPU device lost mid-merge is reported as a GpuDeviceLostError (the next merge gets a new
 * device), a tensor worker that died as a WorkerStoppedError; `fault` injects either for the tests
 * (merge-faults.ts). The worker holds a life lock so that the page hears of its own death (worker-life.ts).
 * `createMergeWorkerApi` is the whole API, so tests can expose it over a MessageChannel in Node.
 */
import { expose, transfer } from 'comlink';
import type { DType } from '../core/dtype';
import { type LabWarning, MergeError, describeError, isAbortError } from '../core/errors';
import { Checkpoint } from '../core/formats/checkpoint';
import { MapModelFolder } from '../core/io/byte-source';
import { DirectoryOutputFolder } from '../browser/directory-output';
import { checkOpfsRoom } from '../browser/opfs-room';
import { MemoryOutputFolder } from '../core/io/output-folder';
import { parseActivationStats } from '../core/merge/activation-stats';
import type { TensorBackend } from '../core/merge/backend';
import { CpuBackend } from '../core/merge/cpu-backend';
import { FastCpuBackend } from '../core/merge/fast/fast-cpu-backend';
import type { TensorWorkerPool } from '../core/merge/parallel/protocol';
import { type MergeProgress, type MergeSummary, merge } from '../core/merge/execute';
import { planMerge } from '../core/merge/plan';
import { parseRecipe } from '../core/recipe/parse';
import type { SpectrumDiagnostics, TensorDiagnostics } from '../core/merge/diagnostics';
import { WebGpuBackend } from '../gpu/backend';
import { type DareProbeArgs, DEFAULT_DARE_PROBE, dareProbeBytes } from '../gpu/dare-probe';
import { type AdapterReport, type GpuDevice, GpuDeviceLostError, acquireGpuDevice, browserGpu } from '../gpu/device';
import { installLabErrorTransfer } from './errors';
import type { MergeFault } from './merge-faults';
import { type WebTensorWorkerPool, webTensorWorkers } from './tensor-pool';
import { holdLifeLock } from './worker-life';

installLabErrorTransfer();

/**
 * The page's WebGPU backend holds less than the CLI's: a browser tab shares the machine with
 * everything else, and with a software adapter (SwiftShader) every GPU buffer, and every upload and
 * readback staged in shared memory, is CPU memory of the GPU process (and of the page). Smaller
 * chunks (1.5 Mi elements, 6 MiB as f32; the CLI's are 2 Mi, and 4.2 Mi for TIES) and a small
 * free-buffer pool (the CLI keeps 96 MiB) bound both: measured in Chromium, the GPU process and the
 * page grow with the chunk. Methods that hold task vectors (holdsTaskVectors: TIES, DARE, breadcrumbs,
 * DELLA) keep a chunk's task vectors and trimmed values (with a sign consensus also its weighted, sign
 * and mixed values) in f32 at once, where TA holds its 16-bit inputs: they run on 1 Mi-element chunks
 * (the 1.5B-shaped TIES merge with these settings on SwiftShader, Dawn in Node: peak RSS 345 → 309 MB,
 * TA 298, same bytes, no slower: 88 against 112 s). The merged bytes are the same at any chunk size.
 */
export const PAGE_GPU_OPTIONS = {
  maxChunkElements: 1.5 * 2 ** 20,
  selectChunkElements: 2 ** 20,
  maxPoolFreeBytes: 32 * 2 ** 20,
} as const;

export interface WorkerMergeRequest {
  /** The recipe, as YAML. */
  recipe: string;
  /** Model reference (as named in the recipe) → file name → contents. */
  models: Record<string, Record<string, Blob | Uint8Array>>;
  /** `cpu`: the fast CPU backend (with the worker pool); `cpu-reference`: the plain-TS spec, in this worker. */
  backend?: 'auto' | 'webgpu' | 'cpu' | 'cpu-reference';
  chunkElements?: number;
  shardBytes?: number;
  /**
   * Write the output into this folder of the origin-private file system and return disk-backed
   * Files, so multi-GB merges never sit in one ArrayBuffer. Without it: in memory (small models, tests).
   */
  opfsFolder?: string;
  /** Activation statistics JSON for a recipe with `aim`. */
  activationStats?: string;
  /** A fault to inject (end-to-end tests only; see merge-faults.ts). */
  fault?: MergeFault;
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

/**
 * `cpuWorkers`: the tensor workers a merge on the CPU spreads over (default: Web Workers, one per
 * core; none where there are none); tests pass Node's worker threads.
 */
export function createMergeWorkerApi(
  getGpu: () => Promise<GPU | undefined> = async () => browserGpu(),
  // A tensor-worker fault needs a pool, even on one core.
  cpuWorkers: (closeFirstAfter?: number) => TensorWorkerPool | WebTensorWorkerPool | undefined = (n) =>
    webTensorWorkers(n === undefined ? undefined : Math.max(2, navigator.hardwareConcurrency), n),
) {
  let active: AbortController | undefined;

  interface Picked {
    backend: TensorBackend<unknown>;
    notice: string;
    workers?: TensorWorkerPool | WebTensorWorkerPool | undefined;
    /** The GPU device a WebGPU backend runs on. */
    device?: GpuDevice;
  }
  const fastCpu = (why: string, fault?: MergeFault): Picked => {
    const workers = cpuWorkers(fault?.kind === 'tensor-worker-exit' ? fault.after : undefined);
    const threads = workers ? `, ${workers.size} workers` : '';
    return { backend: new FastCpuBackend() as TensorBackend<unknown>, notice: `cpu${threads}${why}`, workers };
  };

  async function pickBackend(choice: WorkerMergeRequest['backend'] = 'auto', fault?: MergeFault): Promise<Picked> {
    if (choice === 'cpu-reference')
      return { backend: new CpuBackend() as TensorBackend<unknown>, notice: 'cpu (reference)' };
    if (choice === 'cpu' || fault?.kind === 'tensor-worker-exit') return fastCpu('', fault);
    try {
      const gpu = await getGpu();
      // The backend runs on the shared device (acquired here first, so that its loss can be told).
      const device = await acquireGpuDevice(gpu);
      const be = await WebGpuBackend.create(gpu, PAGE_GPU_OPTIONS);
      return { backend: be as TensorBackend<unknown>, notice: be.name, device };
    } catch (e) {
      if (choice === 'webgpu') throw e;
      return fastCpu(` (no WebGPU: ${describeError(e)})`);
    }
  }

  return {
    /** Holds the worker's life lock (worker-life.ts) until it ends; resolves once held. */
    holdLifeLock(name: string): Promise<boolean> {
      return holdLifeLock(name);
    },

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
      const picked = await pickBackend(req.backend, req.fault);
      const { backend, notice, workers } = picked;
      const injectFault = faultInjector(req.fault, picked.device);
      try {
        const { recipe, warnings } = parseRecipe(req.recipe);
        const sources = new Map<string, Checkpoint>();
        for (const [ref, files] of Object.entries(req.models))
          sources.set(ref, await Checkpoint.open(new MapModelFolder(ref, new Map(Object.entries(files)))));
        const activationStats = req.activationStats
          ? parseActivationStats(req.activationStats, recipe.aim?.calibration ?? 'activation statistics')
          : undefined;
        // OPFS: a merge the quota cannot hold is refused before anything is written.
        if (req.opfsFolder) await checkOpfsRoom(planMerge(recipe, sources, activationStats).bytesOut, req.opfsFolder);
        const out = req.opfsFolder ? await DirectoryOutputFolder.opfs(req.opfsFolder) : new MemoryOutputFolder('merge');
        let last = 0;
        const summary = await merge(recipe, sources, backend, out, {
          signal: ac.signal,
          ...(workers ? { workers } : {}),
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
          ...(req.chunkElements ? { chunkElements: req.chunkElements } : {}), // else the backend's, per method
          ...(req.shardBytes ? { shardBytes: req.shardBytes } : {}),
          ...(activationStats ? { activationStats } : {}),
          onProgress: (p) => {
            injectFault?.(p.tensorsDone);
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
      } catch (e) {
        throw await whyMergeStopped(e, picked);
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
      backend: 'webgpu' | 'cpu' | 'cpu-reference' = 'webgpu',
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

/**
 * The error a failed merge reports: the loss of its GPU device (whatever error the merge itself saw
 * first), or the death of a tensor worker when that caused `e`; else `e`.
 */
async function whyMergeStopped(e: unknown, picked: { device?: GpuDevice; workers?: unknown }): Promise<unknown> {
  const device = picked.device;
  if (device && !isAbortError(e)) {
    // device.lost settles a moment after the failure it caused.
    await Promise.race([device.device.lost, new Promise((res) => setTimeout(res, 200))]);
    if (device.lost) return new GpuDeviceLostError(device.lost.reason, device.lost.message);
  }
  return (picked.workers as Partial<WebTensorWorkerPool> | undefined)?.stoppedBy?.(e) ?? e;
}

/** The fault of a merge as a function of the tensors done (merge-faults.ts); undefined without one. */
function faultInjector(
  fault: MergeFault | undefined,
  device: GpuDevice | undefined,
): ((done: number) => void) | undefined {
  if (!fault || fault.kind === 'tensor-worker-exit') return undefined;
  let fired = false;
  return (done) => {
    if (fired || done < fault.after) return;
    fired = true;
    if (fault.kind === 'gpu-lost') device?.device.destroy();
    else if (fault.kind === 'merge-worker-exit') (self as unknown as { close(): void }).close();
    else
      setTimeout(() => {
        throw new Error(`fault injected after ${done} tensors (merge-worker-error)`);
      });
  };
}

export type MergeWorkerApi = ReturnType<typeof createMergeWorkerApi>;
export type { DareProbeArgs, DType };

declare const WorkerGlobalScope: { new (): unknown } | undefined;
if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' && self instanceof WorkerGlobalScope)
  expose(createMergeWorkerApi());
