/**
 * The sharded safetensors writer's positional mode (parallel merges): chunks written at their
 * place, in any order, give the same files as the sequential writer, byte for byte, in memory and
 * on disk; a chunk past its tensor's end and a tensor left short are errors naming it; abort()
 * leaves no file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type PlannedTensor, ShardedSafetensorsWriter, planShards } from '../../src/core/formats/safetensors-writer';
import { MemoryOutputFolder, type OutputFolder } from '../../src/core/io/output-folder';
import { FsOutputFolder } from '../../src/node/fs-folder';

const TENSORS: PlannedTensor[] = [
  { name: 'embed', dtype: 'BF16', shape: [10, 6] }, // 120 bytes: the many-chunk tensor
  { name: 'norm', dtype: 'F32', shape: [6] }, // 24
  { name: 'q', dtype: 'F16', shape: [6, 6] }, // 72
  { name: 'bias', dtype: 'F32', shape: [3] }, // 12
  { name: 'head', dtype: 'BF16', shape: [4, 6] }, // 48
];
const META = { format: 'pt', merge_recipe: 'x' };
const CHUNK = 16;

/** Distinct bytes for every tensor, cut into chunks of CHUNK bytes (the last one shorter). */
function chunksOf(t: PlannedTensor, salt: number): Uint8Array[] {
  const size = t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' ? 4 : 2);
  const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7 + salt * 31 + 1) & 255);
  const out: Uint8Array[] = [];
  for (let o = 0; o < size; o += CHUNK) out.push(bytes.slice(o, o + CHUNK));
  return out;
}

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const FOLDERS: [string, () => { folder: OutputFolder; files: () => Map<string, Uint8Array> }][] = [
  [
    'memory',
    () => {
      const folder = new MemoryOutputFolder();
      return { folder, files: () => new Map(folder.files) };
    },
  ],
  [
    'disk',
    () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'positional-writer-'));
      tempDirs.push(dir);
      const files = () => new Map(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]));
      return { folder: new FsOutputFolder(dir), files };
    },
  ],
];

async function sequential(
  make: () => { folder: OutputFolder; files: () => Map<string, Uint8Array> },
  maxShard: number,
) {
  const { folder, files } = make();
  const w = new ShardedSafetensorsWriter(folder, planShards(TENSORS, maxShard), META);
  for (const [i, t] of TENSORS.entries()) {
    await w.begin(t.name);
    for (const c of chunksOf(t, i)) await w.write(c);
  }
  await w.writeExtra('config.json', new TextEncoder().encode('{}'));
  await w.finalize();
  return { files: files(), names: w.files };
}

/** Every chunk as (tensor, offset, bytes), in an order where later tensors come first and the first one is interleaved. */
function scrambled(): [number, number, Uint8Array][] {
  const per = TENSORS.map((t, i) => chunksOf(t, i).map((c, k) => [i, k * CHUNK, c] as [number, number, Uint8Array]));
  const order: [number, number, Uint8Array][] = [];
  const embed = per[0]!;
  const rest = per.slice(1).reverse().flat();
  while (embed.length || rest.length) {
    if (rest.length) order.push(rest.shift()!);
    if (embed.length) order.push(embed.pop()!); // the first tensor back to front, between the others
  }
  return order;
}

describe.each(FOLDERS)('positional writer (%s)', (_, make) => {
  it.each([
    ['one shard', 1024 ** 3],
    ['several shards', 130],
  ])('chunks out of order give the sequential writer’s files, byte for byte (%s)', async (__, maxShard) => {
    const want = await sequential(make, maxShard);
    const { folder, files } = make();
    const shards = planShards(TENSORS, maxShard);
    if (maxShard < 1000) expect(shards.length).toBeGreaterThan(2);
    const w = new ShardedSafetensorsWriter(folder, shards, META);
    const order = scrambled();
    // Half the writes overlap one another, as the parallel merge's may.
    await Promise.all(order.slice(0, order.length / 2).map(([i, o, c]) => w.writeTensorAt(i, o, c)));
    for (const [i, o, c] of order.slice(order.length / 2)) await w.writeTensorAt(i, o, c);
    await w.writeExtra('config.json', new TextEncoder().encode('{}'));
    await w.finalize();
    const got = files();
    expect([...got.keys()].sort()).toEqual([...want.files.keys()].sort());
    for (const [file, bytes] of want.files) expect(got.get(file), file).toEqual(bytes);
    expect(w.files).toEqual(want.names);
  });

  it('a chunk past its tensor’s end is an error naming the tensor; abort() leaves no file', async () => {
    const { folder, files } = make();
    const w = new ShardedSafetensorsWriter(folder, planShards(TENSORS, 130), META);
    await w.writeTensorAt(0, 0, chunksOf(TENSORS[0]!, 0)[0]!);
    await expect(w.writeTensorAt(2, 64, new Uint8Array(16))).rejects.toThrow(/16 bytes at 64 .*'q' \(72 bytes\)/);
    await expect(w.writeTensorAt(3, -4, new Uint8Array(4))).rejects.toThrow(/'bias'/);
    expect(files().size).toBeGreaterThan(0);
    await w.abort();
    expect(files().size).toBe(0);
    expect(await folder.list()).toEqual([]);
  });

  it('finalize() with a tensor short of its bytes is an error naming it, and nothing is renamed', async () => {
    const { folder, files } = make();
    const w = new ShardedSafetensorsWriter(folder, planShards(TENSORS, 130), META);
    for (const [i, o, c] of scrambled()) if (!(i === 2 && o === 32)) await w.writeTensorAt(i, o, c);
    await expect(w.finalize()).rejects.toThrow(/tensor 'q' is incomplete \(56 of 72 bytes\)/);
    expect([...files().keys()].every((f) => f.endsWith('.partial'))).toBe(true);
    await w.abort();
    expect(files().size).toBe(0);
  });
});

describe('FileWriter.writeAt', () => {
  it.each(FOLDERS)(
    '%s: writes at absolute offsets, a later write over the same bytes wins, a gap reads as zeros',
    async (_, make) => {
      const { folder, files } = make();
      const f = await folder.create('x.bin');
      await f.write(Uint8Array.of(1, 2, 3, 4));
      await f.writeAt(8, Uint8Array.of(9, 9));
      await f.writeAt(2, Uint8Array.of(7, 7, 7));
      await f.writeAt(9, Uint8Array.of(5));
      await f.close();
      expect([...files().get('x.bin')!]).toEqual([1, 2, 7, 7, 7, 0, 0, 0, 9, 5]);
    },
  );
});
