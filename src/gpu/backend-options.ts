/** The WebGPU backend's (backend.ts) options and statistics. */
import { type MethodRow, holdsTaskVectors } from '../core/merge/methods/registry';
import type { PoolStats } from './buffer-pool';
import type { GpuContextOptions } from './context';

export interface WebGpuBackendOptions extends GpuContextOptions {
  /** Largest chunk (elements); default DEFAULT_CHUNK_ELEMENTS, capped by the buffer limit. */
  maxChunkElements?: number;
  /** Chunk for methods that hold task vectors (holdsTaskVectors: TIES, DARE, …); default maxChunkElements. */
  selectChunkElements?: number;
  /** Chunk for the other methods (TA's one pass, …); default STREAM_CHUNK_ELEMENTS, at most maxChunkElements. */
  streamChunkElements?: number;
  /**
   * Encode a chunk's operations into few submits (3 per TA chunk; one per operation otherwise, 5).
   * Default: on a hardware adapter. On a software one (lavapipe, a CPU) one submit per operation
   * measured 10-15% faster side by side, so it is the default there.
   */
  batchSubmits?: boolean;
  /**
   * The radix select's histograms (TIES's magnitude cuts) counted per workgroup in workgroup memory,
   * then added to the global counts; otherwise with atomics straight into the global counts. Same
   * counts. Default: except on SwiftShader, where barriers are costly (device.ts, barriersAreCostly).
   */
  workgroupHistograms?: boolean;
}

export interface WebGpuStats {
  storage: PoolStats;
  readback: PoolStats;
  uniform: PoolStats;
  pipelinesCompiled: number;
  submits: number;
  dispatches: number;
  /** Bytes written to the GPU / read back from it. */
  uploadBytes: number;
  readbackBytes: number;
}

// 67 × 64 Ki = 4.19 Mi elements: the smallest multiple of 64 Ki that keeps a Qwen2.5-0.5B MLP weight
// (896 × 4864 = 4.36 M) in one chunk, so TIES ranks it in memory, while every f32 working tensor stays
// small. With the 96 MiB pool cap (context.ts), TIES on 3 × 1 GB bf16 (bench/merge-run.ts) measured
// peak RSS 548 MB (4.5 Mi: 580-600; 6 Mi with a 192 MiB cap: 677-704) at the same CPU time.
export const DEFAULT_CHUNK_ELEMENTS = 67 * 2 ** 16;

/**
 * 2 Mi elements: TA (one pass, three 16-bit inputs in, one out) on lavapipe, side by side with
 * 67 × 64 Ki (bench/merge-run.ts, 3 × 1 GB): bf16 3.0–3.2 s against 3.7–4.3 s, f16 4.7–5.0 against
 * 5.1 s, and 80 MB less peak RSS; 1–3 Mi were within noise of it.
 */
export const STREAM_CHUNK_ELEMENTS = 2 ** 21;

/** Released bytes an open op may hold back from the pool, in f32 chunks: bounds GPU (on lavapipe, host) memory. */
export const HELD_CHUNKS = 2;

/** The chunk per method for these options (TensorBackend.chunkElementsFor), neither above `max`. */
export function methodChunks(opts: WebGpuBackendOptions, max: number): (spec: MethodRow) => number {
  const select = Math.min(opts.selectChunkElements ?? max, max);
  const stream = Math.min(opts.streamChunkElements ?? STREAM_CHUNK_ELEMENTS, max);
  return (spec) => (holdsTaskVectors(spec) ? select : stream);
}
