/**
 * The TensorJob a merge hands to a method for one output tensor: chunks come from the shared
 * ChunkReader (with read-ahead) and are loaded onto the backend; emitted chunks get the AIM
 * post-step where the plan asks for it, are stored in the output dtype and go to the sink.
 */
import type { DType } from '../dtype';
import { encodeFromF32 } from '../dtype';
import { AIM_SCALE } from '../kernels/aim-scale';
import type { TensorBackend } from './backend';
import { type ChunkReader, readChunk, tensorChunk } from './chunk-reader';
import { type SpectrumDiagnostics, type TensorDiagnostics, emptyDiagnostics } from './diagnostics';
import type { TensorPlan } from './plan';
import type { SvdSettings, TensorJob } from './tensor-job';

export interface ChunkedTensorJobOptions<T> {
  readonly tensor: TensorPlan;
  /** The tensor's position in the plan (where the reader reads it). */
  readonly index: number;
  readonly backend: TensorBackend<T>;
  readonly reader: ChunkReader;
  /** The merge's chunk size; SVD tensors take theirs whole (see tensorChunk). */
  readonly chunkElements: number;
  readonly seed: number;
  /** Spend extra passes on diagnostics. */
  readonly diagnose: boolean;
  readonly onSpectrum?: ((d: SpectrumDiagnostics) => void) | undefined;
  /** Input bytes read for this tensor (each chunk counted once). */
  readonly onRead: (bytes: number) => void;
  /** One output chunk's storage bytes, in order. */
  readonly onChunkOut: (bytes: Uint8Array) => Promise<void>;
}

export class ChunkedTensorJob<T> implements TensorJob<T> {
  readonly name: string;
  readonly numel: number;
  readonly backend: TensorBackend<T>;
  readonly chunkElements: number;
  readonly numChunks: number;
  readonly inputs: TensorJob<T>['inputs'];
  readonly global: TensorJob<T>['global'];
  readonly shape: readonly number[];
  readonly svd: SvdSettings | undefined;
  readonly spectrum: ((d: SpectrumDiagnostics) => void) | undefined;
  readonly seed: number;
  readonly diagnose: boolean;
  readonly diagnostics: TensorDiagnostics = emptyDiagnostics();
  readonly emitReadsInputs: boolean;

  private readonly tensor: TensorPlan;
  private readonly options: ChunkedTensorJobOptions<T>;
  private loadedChunk = -1;
  private loaded: T[] = [];
  private chunksCounted = 0;
  private aimScale: T | undefined;

  constructor(options: ChunkedTensorJobOptions<T>) {
    const tp = options.tensor;
    this.options = options;
    this.tensor = tp;
    this.name = tp.name;
    this.numel = tp.numel;
    this.backend = options.backend;
    this.chunkElements = tensorChunk(tp, options.chunkElements);
    this.numChunks = Math.max(1, Math.ceil(tp.numel / this.chunkElements));
    this.inputs = tp.inputs.map((i) => ({ model: i.model, params: i.params, stream: i.stream }));
    this.global = tp.global;
    this.shape = tp.shape;
    this.svd = tp.svd;
    this.spectrum = options.onSpectrum;
    this.seed = options.seed;
    this.diagnose = options.diagnose;
    this.emitReadsInputs = tp.aim !== undefined;
  }

  async loadInputs(c: number, which: readonly number[]): Promise<readonly T[]> {
    const bytes = await readChunk(this.tensor, c, this.chunkElements, which, this.options.reader);
    return Promise.all(bytes.map((b, k) => this.backend.load(b, this.tensor.inputs[which[k]!]!.tensor.dtype)));
  }

  async load(c: number): Promise<readonly T[]> {
    if (c === this.loadedChunk) return this.loaded;
    this.releaseLoaded();
    const tp = this.tensor;
    const { reader, index } = this.options;
    const bytes = tp.numel === 0 ? tp.inputs.map(() => new Uint8Array(0)) : await reader.read(index, c);
    // Progress counts each chunk's bytes once, even when a multi-pass method re-reads it.
    if (c >= this.chunksCounted) {
      this.options.onRead(bytes.reduce((n, b) => n + b.byteLength, 0));
      this.chunksCounted = c + 1;
    }
    this.loaded = await Promise.all(bytes.map((b, i) => this.backend.load(b, tp.inputs[i]!.tensor.dtype)));
    this.loadedChunk = c;
    return this.loaded;
  }

  async emit(merged: T): Promise<void> {
    const { backend, tensor: tp } = this;
    let out = merged;
    if (tp.aim) {
      // AIM post-step against θ₀ (input 0) of the chunk being emitted.
      const scale = (this.aimScale ??= await backend.load(encodeFromF32(tp.aim.scale, 'F32'), 'F32'));
      const offset = this.loadedChunk * this.chunkElements;
      const { omega, cols } = tp.aim;
      out = await backend.elementwise(AIM_SCALE, [this.loaded[0]!, merged, scale], { omega, offset, cols });
      backend.release(merged);
    }
    const bytes = await backend.store(out, tp.outDtype as DType);
    backend.release(out);
    await this.options.onChunkOut(bytes);
  }

  /** Releases every handle the job holds. */
  dispose(): void {
    this.releaseLoaded();
    if (this.aimScale) this.backend.release(this.aimScale);
    this.aimScale = undefined;
  }

  private releaseLoaded(): void {
    for (const h of this.loaded) this.backend.release(h);
    this.loaded = [];
    this.loadedChunk = -1;
  }
}
