/**
 * Streaming, sharded safetensors writer. The layout (which tensor goes in which shard, at which
 * offset) is planned up front from names, dtypes and shapes, so each shard's header is written
 * first and tensor data then streams through, chunk by chunk: in plan order (begin/write, one
 * thread), or each chunk at its place as it comes (writeTensorAt, parallel merges).
 *
 * Every file is written under a `.partial` name and renamed only by `finalize()`; `abort()`
 * removes them. A cancelled or failed merge therefore never leaves output that looks complete.
 */
import { type DType, itemSize } from '../dtype';
import type { FileWriter, OutputFolder } from '../io/output-folder';
import { numel } from './safetensors';

export const DEFAULT_SHARD_BYTES = 1024 ** 3;
export const PARTIAL_SUFFIX = '.partial';

export interface PlannedTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface ShardPlan {
  readonly file: string;
  readonly tensors: readonly (PlannedTensor & { begin: number; end: number })[];
  readonly dataBytes: number;
}

/** Splits tensors, in order, into shards of at most `maxShardBytes` of data (one tensor may exceed it alone). */
export function planShards(tensors: readonly PlannedTensor[], maxShardBytes = DEFAULT_SHARD_BYTES): ShardPlan[] {
  const groups: (PlannedTensor & { begin: number; end: number })[][] = [[]];
  let used = 0;
  for (const t of tensors) {
    const bytes = numel(t.shape) * itemSize(t.dtype);
    if (used > 0 && used + bytes > maxShardBytes) {
      groups.push([]);
      used = 0;
    }
    groups[groups.length - 1]!.push({ ...t, begin: used, end: used + bytes });
    used += bytes;
  }
  const n = groups.length;
  const pad = (i: number) => String(i).padStart(5, '0');
  return groups.map((g, i) => ({
    file: n === 1 ? 'model.safetensors' : `model-${pad(i + 1)}-of-${pad(n)}.safetensors`,
    tensors: g,
    dataBytes: g.length ? g[g.length - 1]!.end : 0,
  }));
}

export function encodeHeader(shard: ShardPlan, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  for (const t of shard.tensors) header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [t.begin, t.end] };
  const body = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(body.byteLength / 8) * 8; // pad with spaces so data starts 8-byte aligned
  const out = new Uint8Array(8 + headerLen).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(body, 8);
  return out;
}

/** Where a tensor's bytes go in positional mode, and how many it got. */
interface Placed {
  readonly name: string;
  readonly shard: number;
  /** Byte offset of the tensor's data in its shard's file (header included). */
  readonly at: number;
  readonly size: number;
  received: number;
}

export class ShardedSafetensorsWriter {
  private shardIndex = -1;
  private tensorIndex = -1;
  private written = 0; // bytes of the current tensor written
  private writer: FileWriter | undefined;
  private readonly partials: string[] = [];
  private done = false;
  /** Positional mode: every shard's file, opened (header written) on the first writeTensorAt. */
  private opening: Promise<FileWriter[]> | undefined;
  private readonly opened: FileWriter[] = [];
  private placed: Placed[] | undefined;

  constructor(
    private readonly out: OutputFolder,
    readonly shards: readonly ShardPlan[],
    private readonly metadata: Record<string, string>,
  ) {}

  /** Final names of every file written so far (shards, index, extras such as config and tokenizer). */
  get files(): string[] {
    return this.partials.map((p) => p.slice(0, -PARTIAL_SUFFIX.length));
  }

  private get currentTensor() {
    return this.shards[this.shardIndex]?.tensors[this.tensorIndex];
  }

  /** Starts the next tensor; its name must match the plan's order. */
  async begin(name: string): Promise<void> {
    if (this.opening) throw new Error('writer: begin() after writeTensorAt()');
    const cur = this.currentTensor;
    if (cur && this.written !== cur.end - cur.begin)
      throw new Error(`writer: tensor '${cur.name}' got ${this.written} of ${cur.end - cur.begin} bytes`);
    this.tensorIndex++;
    while (this.shardIndex < 0 || this.tensorIndex >= this.shards[this.shardIndex]!.tensors.length) {
      await this.writer?.close();
      this.shardIndex++;
      this.tensorIndex = 0;
      const shard = this.shards[this.shardIndex];
      if (!shard) throw new Error(`writer: tensor '${name}' is not in the shard plan`);
      const partial = shard.file + PARTIAL_SUFFIX;
      this.partials.push(partial);
      this.writer = await this.out.create(partial);
      await this.writer.write(encodeHeader(shard, this.metadata));
    }
    const t = this.currentTensor!;
    if (t.name !== name) throw new Error(`writer: expected tensor '${t.name}' next, got '${name}'`);
    this.written = 0;
  }

  async write(bytes: Uint8Array): Promise<void> {
    const t = this.currentTensor;
    if (!t || this.written + bytes.byteLength > t.end - t.begin)
      throw new Error(`writer: too many bytes for '${t?.name}'`);
    await this.writer!.write(bytes);
    this.written += bytes.byteLength;
  }

  /**
   * Positional mode: writes `bytes` of the tensor at `index` in plan order (every shard's tensors,
   * shard after shard), `offset` bytes into its data, whatever was written before. Every shard's
   * file is opened, its header written, on the first call. Calls may overlap.
   */
  async writeTensorAt(index: number, offset: number, bytes: Uint8Array): Promise<void> {
    if (this.shardIndex >= 0) throw new Error('writer: writeTensorAt() after begin()');
    const files = await (this.opening ??= this.openAll());
    const t = this.placed![index];
    if (!t) throw new Error(`writer: no tensor #${index} in the shard plan`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + bytes.byteLength > t.size)
      throw new Error(
        `writer: ${bytes.byteLength} bytes at ${offset} do not fit in tensor '${t.name}' (${t.size} bytes)`,
      );
    t.received += bytes.byteLength;
    await files[t.shard]!.writeAt(t.at + offset, bytes);
  }

  private async openAll(): Promise<FileWriter[]> {
    const placed: Placed[] = [];
    for (const [i, shard] of this.shards.entries()) {
      const header = encodeHeader(shard, this.metadata);
      for (const t of shard.tensors)
        placed.push({ name: t.name, shard: i, at: header.byteLength + t.begin, size: t.end - t.begin, received: 0 });
      const partial = shard.file + PARTIAL_SUFFIX;
      this.partials.push(partial);
      const w = await this.out.create(partial);
      this.opened.push(w);
      await w.write(header);
    }
    this.placed = placed;
    return this.opened;
  }

  /** Writes an extra file (config, tokenizer) under a partial name; it is renamed by finalize(). */
  async writeExtra(file: string, bytes: Uint8Array): Promise<void> {
    const partial = file + PARTIAL_SUFFIX;
    this.partials.push(partial);
    const w = await this.out.create(partial);
    await w.write(bytes);
    await w.close();
  }

  /** Closes the last shard, writes the index, and renames every file to its final name (config.json last). */
  async finalize(): Promise<void> {
    if (this.opening) await this.closePositional(await this.opening);
    else await this.closeSequential();
    if (this.shards.length > 1) {
      const weightMap: Record<string, string> = {};
      let total = 0;
      for (const s of this.shards) {
        for (const t of s.tensors) weightMap[t.name] = s.file;
        total += s.dataBytes;
      }
      const index = { metadata: { total_size: total }, weight_map: weightMap };
      await this.writeExtra(
        'model.safetensors.index.json',
        new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n'),
      );
    }
    const order = [...this.partials].sort(
      (a, b) => Number(a.startsWith('config.json')) - Number(b.startsWith('config.json')),
    );
    for (const p of order) await this.out.rename(p, p.slice(0, -PARTIAL_SUFFIX.length));
    this.done = true;
  }

  private async closeSequential(): Promise<void> {
    const cur = this.currentTensor;
    if (cur && this.written !== cur.end - cur.begin) throw new Error(`writer: tensor '${cur.name}' is incomplete`);
    const last = this.shards[this.shards.length - 1]!;
    if (this.shardIndex !== this.shards.length - 1 || this.tensorIndex !== last.tensors.length - 1)
      throw new Error('writer: finalize() before every planned tensor was written');
    await this.writer?.close();
    this.writer = undefined;
  }

  private async closePositional(files: FileWriter[]): Promise<void> {
    for (const t of this.placed!)
      if (t.received !== t.size)
        throw new Error(`writer: tensor '${t.name}' is incomplete (${t.received} of ${t.size} bytes)`);
    for (const w of files) await w.close();
  }

  /** Removes every partial file written so far. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.done) return;
    await this.opening?.catch(() => undefined);
    for (const w of this.writer ? [this.writer] : this.opened) {
      try {
        await w.abort();
      } catch {
        /* already closed */
      }
    }
    this.writer = undefined;
    this.opened.length = 0;
    for (const p of this.partials) await this.out.remove(p).catch(() => undefined);
    this.partials.length = 0;
  }
}
