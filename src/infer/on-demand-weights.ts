/**
 * Lab-made weights produced while onnxruntime-web builds its session, instead of before it.
 *
 * onnxruntime-web copies each external-data initializer into its own heap from the bytes it was
 * given; handed whole files, a load holds every packed weight twice at its peak (the 1.5B shape in
 * q4: 0.97 GB in JS beside 1.1 GB in wasm). Here each file is an `OnDemandFile`: a Uint8Array
 * whose `subarray(start, end)` converts just those bytes from the checkpoint when the runtime asks
 * for them (a synchronous read, which Node files and Blobs in a worker allow), so only one tensor's
 * bytes exist outside the runtime at a time.
 *
 * That `subarray` is how onnxruntime-web (1.30) reads mounted external data is observed behaviour,
 * not API: `servedBytes` lets the loader check that every byte was read this way, and fall back to
 * whole files when not (./model.ts).
 */
import { decodeToF32, encodeFromF32 } from '../core/dtype';
import { throwIfAborted } from '../core/errors';
import type { Checkpoint } from '../core/formats/checkpoint';
import { packQ4 } from '../core/kernels/q4-pack';
import { CHUNK_ELEMENTS, type DerivedJob, type DerivedWeights } from './derived-weights';
import { InferError } from './errors';
import { decodeModel } from './onnx-proto';

/** A file's bytes, made on request. Only `byteLength` and `subarray` are meaningful. */
export class OnDemandFile extends Uint8Array {
  served = 0;
  constructor(
    private readonly size: number,
    private readonly produce: (start: number, end: number) => Uint8Array,
    /** Where its tensors start (sorted): `pieces` asks for one tensor at a time. */
    readonly boundaries: readonly number[] = [],
  ) {
    super(0);
  }
  override get byteLength(): number {
    return this.size;
  }
  override subarray(start = 0, end = this.size): Uint8Array<ArrayBuffer> {
    const bytes = this.produce(start, end);
    this.served += bytes.byteLength;
    return bytes as Uint8Array<ArrayBuffer>;
  }
}

/** Where one planned tensor lies in its file, and which job makes it. */
interface Segment {
  offset: number;
  byteLength: number;
  job: DerivedJob;
  part: 'out' | 'packed' | 'scales';
}

/** Recently packed q4 rows: a packed tensor and its scales are asked for separately. */
class PackedRows {
  private entries: { key: string; packed: Uint8Array; scales: Uint8Array }[] = [];
  constructor(private readonly maxBytes = 256 * 2 ** 20) {}
  get(key: string) {
    return this.entries.find((e) => e.key === key);
  }
  put(key: string, packed: Uint8Array, scales: Uint8Array) {
    this.entries.unshift({ key, packed, scales });
    let bytes = 0;
    this.entries = this.entries.filter((e) => (bytes += e.packed.byteLength + e.scales.byteLength) <= this.maxBytes);
  }
}

/** Whether every tensor the weights are derived from can be read synchronously. */
export function canProduceOnDemand(derived: DerivedWeights, ckpt: Checkpoint): boolean {
  return derived.plan.every((j) => ckpt.tensor(j.source)?.file.canReadSync ?? false);
}

/** The derived files as on-demand external data (check `canProduceOnDemand` first). */
export function onDemandFiles(
  derived: DerivedWeights,
  ckpt: Checkpoint,
  /** Progress: tensors made of total (a tensor counts once all its bytes have been asked for). */
  onTensor?: (done: number, total: number) => void,
): { path: string; data: OnDemandFile }[] {
  const byFile = new Map<string, Segment[]>();
  const add = (location: string, seg: Segment) => {
    const list = byFile.get(location) ?? [];
    list.push(seg);
    byFile.set(location, list);
  };
  for (const job of derived.plan) {
    if (job.kind === 'q4') {
      add(job.packed.location, { ...job.packed, job, part: 'packed' });
      add(job.scales.location, { ...job.scales, job, part: 'scales' });
    } else add(job.out.location, { ...job.out, job, part: 'out' });
  }
  const cache = new PackedRows();
  const sizes = derived.fileBytes;
  const unread = new Map(
    derived.plan.map((j) => [j, j.kind === 'q4' ? j.packed.byteLength + j.scales.byteLength : j.out.byteLength]),
  );
  let done = 0;
  const served = (job: DerivedJob, bytes: number) => {
    const left = unread.get(job)!;
    unread.set(job, left - bytes);
    if (left > 0 && left - bytes <= 0) onTensor?.(++done, unread.size);
  };
  return derived.locations.map((path, i) => {
    const segments = (byFile.get(path) ?? []).sort((a, b) => a.offset - b.offset);
    const produce = (start: number, end: number) => produceRange(segments, start, end, ckpt, cache, served);
    return {
      path,
      data: new OnDemandFile(
        sizes[i]!,
        produce,
        segments.map((seg) => seg.offset),
      ),
    };
  });
}

/** Bytes [start, end) of one file: the part of each tensor the range covers, converted now. */
function produceRange(
  segments: Segment[],
  start: number,
  end: number,
  ckpt: Checkpoint,
  cache: PackedRows,
  served: (job: DerivedJob, bytes: number) => void,
) {
  const out = new Uint8Array(end - start);
  for (const seg of segments) {
    const from = Math.max(start, seg.offset);
    const to = Math.min(end, seg.offset + seg.byteLength);
    if (from >= to) continue;
    out.set(tensorBytes(seg, from - seg.offset, to - seg.offset, ckpt, cache), from - start);
    served(seg.job, to - from);
  }
  return out;
}

/** Bytes [a, b) of a planned tensor. */
function tensorBytes(seg: Segment, a: number, b: number, ckpt: Checkpoint, cache: PackedRows): Uint8Array {
  const { job } = seg;
  const t = ckpt.tensor(job.source);
  if (!t)
    throw new InferError('missing-weight', `the checkpoint has no tensor '${job.source}'`, { tensor: job.source });
  const read = (first: number, count: number) => decodeToF32(t.file.readRangeSync(job.source, first, count), t.dtype);
  if (job.kind !== 'q4') {
    // f32 / f16: element by element; at most CHUNK_ELEMENTS decoded at a time.
    const item = job.kind === 'f16' ? 2 : 4;
    const bytes = new Uint8Array(b - a);
    for (let e = a / item; e < b / item; e += CHUNK_ELEMENTS) {
      const n = Math.min(CHUNK_ELEMENTS, b / item - e);
      const v = read(e, n);
      const enc = job.kind === 'f16' ? encodeFromF32(v, 'F16') : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      bytes.set(enc, e * item - a);
    }
    return bytes;
  }
  // q4: whole rows (every view over a q4 tensor is a range of rows), packed once for both parts.
  const rowBytes = seg.part === 'packed' ? job.k / 2 : (job.k / job.blockSize) * 4;
  const r0 = Math.floor(a / rowBytes);
  const r1 = Math.ceil(b / rowBytes);
  const key = `${job.source}:${job.blockSize}:${r0}:${r1}`;
  let rows = cache.get(key);
  if (!rows) {
    const packed = new Uint8Array(((r1 - r0) * job.k) / 2);
    const scales = new Uint8Array((r1 - r0) * (job.k / job.blockSize) * 4);
    const step = Math.max(1, Math.floor(CHUNK_ELEMENTS / job.k));
    for (let r = r0; r < r1; r += step) {
      const n = Math.min(step, r1 - r);
      const q = packQ4(read(r * job.k, n * job.k), n, job.k, job.blockSize);
      packed.set(q.packed, ((r - r0) * job.k) / 2);
      scales.set(
        new Uint8Array(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength),
        (r - r0) * (job.k / job.blockSize) * 4,
      );
    }
    cache.put(key, packed, scales);
    rows = { key, packed, scales };
  }
  const whole = seg.part === 'packed' ? rows.packed : rows.scales;
  return whole.subarray(a - r0 * rowBytes, b - r0 * rowBytes);
}

/** A prepared file (../prepared-weights.ts) read in place, range by range, when its source reads synchronously. */
export function onDemandFromSource(
  size: number,
  readSync: (offset: number, length: number) => Uint8Array,
): OnDemandFile {
  return new OnDemandFile(size, (start, end) => readSync(start, end - start));
}

/**
 * Bytes of on-demand files the session did not read through `subarray`: 0 when onnxruntime-web
 * read every initializer of `model` that lies in them (the check that the lazy path was taken).
 */
export function unreadOnDemandBytes(model: Uint8Array, files: readonly { path: string; data: Uint8Array }[]): number {
  const lazy = files.filter((f): f is { path: string; data: OnDemandFile } => f.data instanceof OnDemandFile);
  if (lazy.length === 0) return 0;
  const expected = new Map<string, number>();
  for (const init of decodeModel(model).graph.initializer ?? []) {
    const field = (k: string) => init.externalData?.find((e) => e.key === k)?.value;
    const location = field('location');
    if (location) expected.set(location, (expected.get(location) ?? 0) + Number(field('length') ?? 0));
  }
  return lazy.reduce((missing, f) => missing + Math.max(0, (expected.get(f.path) ?? 0) - f.data.served), 0);
}

/** A file made piece by piece, asynchronously (`DerivedWeights.filePieces`, e.g. with the WGSL packer). */
export interface PiecewiseFile {
  readonly byteLength: number;
  pieces(signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** A weights file to write: bytes, bytes made on demand, or pieces made asynchronously. */
export type WeightFileData = Uint8Array | PiecewiseFile;

/**
 * A file's bytes in pieces, for writing it out (a cache entry) without holding it whole: an
 * on-demand file one tensor at a time (a q4 tensor's scales then come from the rows just packed),
 * any other file as it is. Stops between pieces when `signal` aborts.
 */
export async function* filePieces(data: WeightFileData, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (!(data instanceof Uint8Array)) {
    for await (const piece of data.pieces(signal)) {
      throwIfAborted(signal, 'packing');
      yield piece;
    }
    return;
  }
  if (!(data instanceof OnDemandFile)) {
    yield data;
    return;
  }
  const cuts = [...new Set([0, ...data.boundaries, data.byteLength])].sort((a, b) => a - b);
  for (let i = 1; i < cuts.length; i++) {
    throwIfAborted(signal, 'packing');
    yield data.subarray(cuts[i - 1]!, cuts[i]!);
    await new Promise((resolve) => setTimeout(resolve, 0)); // let progress and cancel through
  }
}
