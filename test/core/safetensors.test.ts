import { describe, expect, it } from 'vitest';
import { encodeFromF32 } from '../../src/core/dtype';
import { SafetensorsError } from '../../src/core/errors';
import { SafetensorsFile } from '../../src/core/formats/safetensors';
import { DEFAULT_SHARD_BYTES, ShardedSafetensorsWriter, planShards } from '../../src/core/formats/safetensors-writer';
import { type ByteSource, MemoryByteSource } from '../../src/core/io/byte-source';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { encodeSafetensors } from '../helpers/checkpoints';

const f32 = (xs: number[]) => encodeFromF32(new Float32Array(xs), 'F32');

function headerFile(header: unknown, data = new Uint8Array(0), name = 'bad.safetensors'): MemoryByteSource {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return new MemoryByteSource(out, name);
}

async function expectCode(src: ByteSource, code: string, tensor?: string) {
  const err = await SafetensorsFile.open(src).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SafetensorsError);
  expect((err as SafetensorsError).code).toBe(code);
  expect((err as SafetensorsError).message).toContain(src.name);
  if (tensor) expect((err as SafetensorsError).message).toContain(tensor);
}

describe('safetensors reader', () => {
  const bytes = encodeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2, 2], bytes: f32([1, 2, 3, 4]) },
      { name: 'b', dtype: 'F16', shape: [3], bytes: encodeFromF32(new Float32Array([0.5, -2, 8]), 'F16') },
    ],
    { format: 'pt', note: 'kept' },
  );

  it('reads tensors by range and keeps __metadata__', async () => {
    const f = await SafetensorsFile.open(new MemoryByteSource(bytes, 'ok.safetensors'));
    expect(f.metadata).toEqual({ format: 'pt', note: 'kept' });
    expect(f.info('a').shape).toEqual([2, 2]);
    expect([...new Float32Array((await f.readRange('a', 1, 2)).slice().buffer)]).toEqual([2, 3]);
    expect(f.info('b').dtype).toBe('F16');
  });

  it('never reads the whole file to get one tensor', async () => {
    const reads: [number, number][] = [];
    const inner = new MemoryByteSource(bytes, 'count.safetensors');
    const counting: ByteSource = {
      name: inner.name,
      size: inner.size,
      read: (o, l) => (reads.push([o, l]), inner.read(o, l)),
    };
    const f = await SafetensorsFile.open(counting);
    reads.length = 0;
    await f.readRange('b');
    expect(reads).toEqual([[f.info('b').offset, 6]]);
  });

  it('rejects each kind of bad file with a typed error naming the file and tensor', async () => {
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 200_000_000n, true);
    await expectCode(new MemoryByteSource(big, 'huge.safetensors'), 'header-too-large');
    const beyond = new Uint8Array(16);
    new DataView(beyond.buffer).setBigUint64(0, 1000n, true);
    await expectCode(new MemoryByteSource(beyond, 'short.safetensors'), 'header-beyond-file');
    await expectCode(headerFile('{not json'), 'header-not-json');
    await expectCode(headerFile('[1,2]'), 'header-not-object');
    await expectCode(
      headerFile({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
      'unsupported-dtype',
      'w',
    );
    await expectCode(
      headerFile({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      'unsupported-dtype',
      'w',
    );
    await expectCode(
      headerFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      'byte-length-mismatch',
      'w',
    );
    await expectCode(
      headerFile(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        new Uint8Array(12),
      ),
      'offsets-overlap',
      'w',
    );
    await expectCode(
      headerFile({ w: { dtype: 'F32', shape: [2], data_offsets: [64, 72] } }, new Uint8Array(8)),
      'offsets-out-of-range',
      'w',
    );
    await expectCode(
      new MemoryByteSource(bytes.subarray(0, bytes.byteLength - 3), 'cut.safetensors'),
      'truncated',
      'b',
    );
    await expectCode(new MemoryByteSource(bytes.subarray(0, 5), 'tiny.safetensors'), 'truncated');
  });

  it('names unsupported dtypes and lists the supported ones', async () => {
    const err = await SafetensorsFile.open(
      headerFile({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
    ).catch((e) => e);
    expect(err.message).toMatch(/I64.*F32, F16, BF16/);
  });
});

describe('sharded safetensors writer', () => {
  it('plans shards under the size limit and writes a valid index', async () => {
    const tensors = [0, 1, 2, 3].map((i) => ({ name: `t${i}`, dtype: 'F32' as const, shape: [4] }));
    const shards = planShards(tensors, 40);
    expect(shards.map((s) => s.file)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    const out = new MemoryOutputFolder();
    const w = new ShardedSafetensorsWriter(out, shards, { recipe: 'x' });
    for (const t of tensors) {
      await w.begin(t.name);
      await w.write(f32([1, 2]));
      await w.write(f32([3, Number(t.name[1])]));
    }
    expect((await out.list()).every((f) => f.endsWith('.partial'))).toBe(true);
    await w.finalize();
    expect((await out.list()).sort()).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(new TextDecoder().decode(out.files.get('model.safetensors.index.json')));
    expect(index.weight_map).toEqual({
      t0: shards[0]!.file,
      t1: shards[0]!.file,
      t2: shards[1]!.file,
      t3: shards[1]!.file,
    });
    expect(index.metadata.total_size).toBe(64);
    const f = await SafetensorsFile.open(new MemoryByteSource(out.files.get(shards[1]!.file)!, 's2'));
    expect(f.metadata).toEqual({ recipe: 'x' });
    expect(f.dataStart % 8).toBe(0);
    expect([...new Float32Array((await f.readRange('t3')).slice().buffer)]).toEqual([1, 2, 3, 3]);
    expect(DEFAULT_SHARD_BYTES).toBe(1024 ** 3);
  });

  it('abort() leaves nothing behind, and finalize() refuses an incomplete model', async () => {
    const out = new MemoryOutputFolder();
    const w = new ShardedSafetensorsWriter(
      out,
      planShards([
        { name: 'a', dtype: 'F32', shape: [2] },
        { name: 'b', dtype: 'F32', shape: [2] },
      ]),
      {},
    );
    await w.begin('a');
    await w.write(f32([1, 2]));
    await expect(w.finalize()).rejects.toThrow(/finalize/);
    await w.abort();
    expect(await out.list()).toEqual([]);
  });
});
