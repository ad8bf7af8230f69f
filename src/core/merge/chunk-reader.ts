/**
 * Reading input tensors in chunks: the storage bytes of chunk c of every input of a tensor, with
 * vocab_policy: base padding, and a reader that keeps one chunk of read-ahead so the next chunk's
 * bytes arrive while the backend works on the current one.
 */
import { decodeToF32, encodeFromF32, itemSize } from '../dtype';
import type { InputBuffers } from './backend';
import type { TensorPlan } from './plan';
import { ReadBuffers } from './read-buffers';

/** Elements per chunk of a tensor: SVD merges take their 2-D weights whole. */
export function tensorChunk(tp: TensorPlan, chunkElements: number): number {
  return tp.svd && tp.svd.fallback === undefined ? Math.max(chunkElements, tp.numel) : chunkElements;
}

/** Reads chunk bytes of every input, one chunk ahead of the consumer, in plan order. */
export class ChunkReader {
  private readonly pending = new Map<string, Promise<Uint8Array[]>>();
  /** Buffers read into again once the backend no longer reads them (TensorBackend.onBytesFree). */
  readonly buffers = new ReadBuffers();
  constructor(
    private readonly tensors: readonly TensorPlan[],
    private readonly chunkElements: number,
    /** The backend's own buffers to read into (TensorBackend.inputBuffers), tried before `buffers`. */
    readonly inputs?: InputBuffers,
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
      p = readChunk(this.tensors[ti]!, c, tensorChunk(this.tensors[ti]!, this.chunkElements), undefined, this);
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
export async function readChunk(
  tp: TensorPlan,
  c: number,
  chunkElements: number,
  which?: readonly number[],
  into?: { readonly buffers?: ReadBuffers; readonly inputs?: InputBuffers | undefined },
): Promise<Uint8Array[]> {
  const start = c * chunkElements;
  const count = Math.min(chunkElements, tp.numel - start);
  const readInput = async (i: number) => {
    const inp = tp.inputs[i]!;
    const have = Math.max(0, Math.min(count, inp.available - start));
    if (have <= 0) return new Uint8Array(0);
    const want = have * itemSize(inp.tensor.dtype);
    const staged = into?.inputs?.take(want);
    if (staged) {
      const bytes = await inp.tensor.file.readRange(inp.tensor.name, start, have, staged).catch((e: unknown) => {
        into!.inputs!.unused(staged);
        throw e;
      });
      if (bytes.buffer !== staged.buffer) into!.inputs!.unused(staged, false);
      return bytes;
    }
    const spare = into?.buffers?.take(want);
    const bytes = await inp.tensor.file.readRange(inp.tensor.name, start, have, spare);
    into?.buffers?.readDone(bytes, spare);
    return bytes;
  };
  if (which) {
    // Only the asked-for inputs (selection passes): padding needs the base's bytes too.
    const short = which.some((i) => tp.inputs[i]!.available < start + count);
    const raw = await Promise.all(which.map(readInput));
    if (!short) return raw;
    for (const r of raw) into?.inputs?.unused(r);
    const all = await readChunk(tp, c, chunkElements, undefined, into);
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
