/**
 * Weights the lab makes itself for a non-f32 graph (f32 copies of norms and biases, f16 tensors,
 * q4 blocks), planned while the graph is built and produced after it, tensor by tensor: each source
 * tensor is decoded to f32 alone, converted, and written into its place in an external-data file.
 * No whole-model f32 copy exists. Files stay under `maxFileBytes` (onnxruntime-web's external data
 * must stay under 2 GB), so a large model's weights are split over several.
 */
import { decodeToF32, encodeFromF32 } from '../core/dtype';
import { throwIfAborted } from '../core/errors';
import type { Checkpoint } from '../core/formats/checkpoint';
import { type Q4BlockSize, type Q4Packed, packQ4 } from '../core/kernels/q4-pack';
import type { DType } from '../core/dtype';
import { InferError } from './errors';
import type { DerivedTensor, WeightRef } from './graph-writer';
import { DataType } from './onnx-proto';

/** One planned conversion: a source tensor into an f32 / f16 tensor, or into q4 blocks and scales. */
export type DerivedJob =
  | { kind: 'f32' | 'f16'; source: string; out: DerivedTensor }
  | {
      kind: 'q4';
      source: string;
      n: number;
      k: number;
      blockSize: Q4BlockSize;
      packed: DerivedTensor;
      scales: DerivedTensor;
    };

export interface ProduceOptions {
  signal?: AbortSignal;
  onTensor?: (done: number, total: number) => void;
  chunkElements?: number;
  /** Packs raw rows (the source's dtype) into q4 blocks; default the CPU spec (../core/kernels/q4-pack.ts). */
  packQ4?: (
    raw: Uint8Array,
    dtype: DType,
    rows: number,
    k: number,
    blockSize: Q4BlockSize,
    tensor: string,
  ) => Promise<Q4Packed>;
}

/** Just under 1 GiB per file: well below the 2 GB limit, and no single huge allocation. */
export const DEFAULT_MAX_FILE_BYTES = 2 ** 30;

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** Values decoded to f32 at a time while deriving (16 MiB of f32). */
export const CHUNK_ELEMENTS = 2 ** 22;

export class DerivedWeights {
  private readonly jobs: DerivedJob[] = [];
  private readonly files: number[] = []; // bytes used per file

  constructor(
    readonly prefix = 'merge-lab.weights',
    readonly maxFileBytes = DEFAULT_MAX_FILE_BYTES,
  ) {}

  /** The file names, in order. */
  get locations(): string[] {
    return this.files.map((_, i) => `${this.prefix}.${i}.bin`);
  }

  /** The planned conversions, in production order. */
  get plan(): readonly DerivedJob[] {
    return this.jobs;
  }

  /** Every planned tensor, in production order (a q4 job gives its packed blocks, then its scales). */
  get tensors(): DerivedTensor[] {
    return this.jobs.flatMap((j) => (j.kind === 'q4' ? [j.packed, j.scales] : [j.out]));
  }

  /** Bytes per file, in order. */
  get fileBytes(): number[] {
    return [...this.files];
  }

  get totalBytes(): number {
    return this.files.reduce((a, b) => a + b, 0);
  }

  /** Places `bytes` (rounded up to 4) in the current file, or a new one when it would overflow. */
  private place(bytes: number): { location: string; offset: number } {
    const size = align4(bytes);
    let i = this.files.length - 1;
    if (i < 0 || (this.files[i]! + size > this.maxFileBytes && this.files[i]! > 0)) {
      this.files.push(0);
      i++;
    }
    const offset = this.files[i]!;
    this.files[i] = offset + size;
    return { location: `${this.prefix}.${i}.bin`, offset };
  }

  private tensor(name: string, dataType: DataType, shape: number[], byteLength: number): DerivedTensor {
    return { name, dataType, shape, byteLength, ...this.place(byteLength) };
  }

  /** `src` as an f32 initializer (norms, biases). */
  f32(src: WeightRef): DerivedTensor {
    const count = src.shape.reduce((a, b) => a * b, 1);
    const out = this.tensor(src.name, DataType.FLOAT, [...src.shape], count * 4);
    this.jobs.push({ kind: 'f32', source: src.name, out });
    return out;
  }

  /** `src` as an f16 initializer named `name`. */
  f16(src: WeightRef, name = src.name): DerivedTensor {
    const count = src.shape.reduce((a, b) => a * b, 1);
    const out = this.tensor(name, DataType.FLOAT16, [...src.shape], count * 2);
    this.jobs.push({ kind: 'f16', source: src.name, out });
    return out;
  }

  /** `src` [N, K] as MatMulNBits' B (uint8 [N, K/B, B/2]) and scales (f32 [N·K/B]); K % B must be 0. */
  q4(src: WeightRef, blockSize: Q4BlockSize, name = src.name): { packed: DerivedTensor; scales: DerivedTensor } {
    const [n, k] = src.shape as [number, number];
    if (src.shape.length !== 2 || k % blockSize !== 0)
      throw new InferError(
        'weight-format',
        `tensor '${src.name}' [${src.shape.join(', ')}] cannot be stored as q4 with block size ${blockSize}: ` +
          `its input dimension ${k} is not a multiple of ${blockSize}` +
          (blockSize > 32 && k % 32 === 0 ? ' (block size 32 would work)' : ''),
        { tensor: src.name, field: 'weights' },
      );
    const blocks = k / blockSize;
    const packed = this.tensor(`${name}.q4`, DataType.UINT8, [n, blocks, blockSize / 2], (n * k) / 2);
    const scales = this.tensor(`${name}.q4_scales`, DataType.FLOAT, [n * blocks], n * blocks * 4);
    this.jobs.push({ kind: 'q4', source: src.name, n, k, blockSize, packed, scales });
    return { packed, scales };
  }

  /**
   * Another initializer over bytes of a planned tensor (`byteOffset`/`byteLength` within it), with its
   * own name and shape: the runtime reads those bytes again, the files hold them once (a tied head's
   * row chunks over the q4 embedding, the embedding's 2-D view for GatherBlockQuantized).
   */
  view(of: DerivedTensor, name: string, shape: number[], byteOffset = 0, byteLength = of.byteLength): DerivedTensor {
    if (byteOffset < 0 || byteOffset + byteLength > of.byteLength)
      throw new Error(`derived weights: view ${name} lies outside ${of.name}`);
    return { name, dataType: of.dataType, shape, location: of.location, offset: of.offset + byteOffset, byteLength };
  }

  /**
   * Produces the files in memory (see `produce`). The load usually makes them on demand instead
   * (./on-demand-weights.ts); this serves sources without synchronous reads, and tests.
   */
  async materialize(ckpt: Checkpoint, opts: ProduceOptions = {}): Promise<{ path: string; data: Uint8Array }[]> {
    const buffers = this.files.map((size) => new Uint8Array(size));
    const locations = this.locations;
    await this.produce(ckpt, (file, at, bytes) => void buffers[locations.indexOf(file)]!.set(bytes, at), opts);
    return locations.map((path, i) => ({ path, data: buffers[i]! }));
  }

  /**
   * One file's bytes in order, as pieces (its tensors and the padding between them), for writing it
   * out without holding it: q4 blocks are written as they are packed, their scales after them.
   * Packs through `opts.packQ4` when given (the WGSL packer). A q4 tensor whose blocks and scales
   * lie in different files is packed for each.
   */
  async *filePieces(ckpt: Checkpoint, location: string, opts: ProduceOptions = {}): AsyncGenerator<Uint8Array> {
    const inFile = (t: DerivedTensor) => t.location === location;
    const jobs = this.jobs.filter((j) => (j.kind === 'q4' ? inFile(j.packed) || inFile(j.scales) : inFile(j.out)));
    let at = 0;
    const pad = (to: number) => {
      const gap = to - at;
      at = to;
      return gap > 0 ? new Uint8Array(gap) : undefined;
    };
    for (const job of jobs) {
      const sink = new DerivedWeights(this.prefix, this.maxFileBytes);
      sink.jobs.push(job);
      const first = job.kind === 'q4' ? (inFile(job.packed) ? job.packed : job.scales) : job.out;
      const gap = pad(first.offset);
      if (gap) yield gap;
      const later: { at: number; bytes: Uint8Array }[] = [];
      const pieces: Uint8Array[] = [];
      await sink.produce(
        ckpt,
        (file, offset, bytes) => {
          if (file !== location) return;
          if (offset === at) {
            pieces.push(bytes);
            at += bytes.byteLength;
          } else later.push({ at: offset, bytes: bytes.slice() });
        },
        { ...opts, onTensor: undefined },
      );
      yield* pieces;
      for (const p of later.sort((a, b) => a.at - b.at)) {
        const g = pad(p.at);
        if (g) yield g;
        yield p.bytes;
        at += p.bytes.byteLength;
      }
      opts.onTensor?.(this.jobs.indexOf(job) + 1, this.jobs.length);
    }
    const tail = pad(this.files[this.locations.indexOf(location)]!);
    if (tail) yield tail;
  }

  /**
   * Makes every planned tensor: reads each source tensor once, in chunks of whole rows (at most
   * `chunkElements` values at a time, so a 150k-row embedding never has an f32 copy), converts
   * each chunk and hands it to `write` (file name, byte offset in it, bytes). q4 chunks go through
   * `packQ4` when given (the WGSL packer, ../gpu/quantize.ts), else the CPU spec. `onTensor`
   * reports progress (tensors done, total).
   */
  async produce(
    ckpt: Checkpoint,
    write: (file: string, at: number, bytes: Uint8Array) => void | Promise<void>,
    opts: ProduceOptions = {},
  ): Promise<void> {
    const into = (t: DerivedTensor, at: number, bytes: Uint8Array) => {
      if (at + bytes.byteLength > t.byteLength) throw new Error(`derived weights: ${t.name} overflows`);
      return write(t.location, t.offset + at, bytes);
    };
    const byteView = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (const [i, job] of this.jobs.entries()) {
      const t = ckpt.tensor(job.source);
      if (!t)
        throw new InferError('missing-weight', `the checkpoint has no tensor '${job.source}'`, { tensor: job.source });
      const rows = t.shape.length > 1 ? t.shape[0]! : 1;
      const rowLength = t.shape.reduce((a, b) => a * b, 1) / rows;
      const rowsPerChunk = Math.max(1, Math.floor((opts.chunkElements ?? CHUNK_ELEMENTS) / rowLength));
      for (let r = 0; r < rows; r += rowsPerChunk) {
        throwIfAborted(opts.signal, 'loading');
        const n = Math.min(rowsPerChunk, rows - r);
        const raw = await t.file.readRange(job.source, r * rowLength, n * rowLength);
        if (job.kind === 'q4') {
          const q = opts.packQ4
            ? await opts.packQ4(raw, t.dtype, n, job.k, job.blockSize, job.source)
            : packQ4(decodeToF32(raw, t.dtype), n, job.k, job.blockSize);
          await into(job.packed, (r * job.k) / 2, q.packed);
          await into(job.scales, r * (job.k / job.blockSize) * 4, byteView(q.scales));
        } else if (job.kind === 'f16')
          await into(job.out, r * rowLength * 2, encodeFromF32(decodeToF32(raw, t.dtype), 'F16'));
        else await into(job.out, r * rowLength * 4, byteView(decodeToF32(raw, t.dtype)));
      }
      opts.onTensor?.(i + 1, this.jobs.length);
    }
  }
}
