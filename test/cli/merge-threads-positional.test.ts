/**
 * A parallel merge writes each output chunk at its place as soon as it comes: with 2 threads and a
 * first tensor of many chunks (the embedding), chunks of later tensors reach the file before the
 * first tensor's last one, instead of waiting behind it; the files are still the single-threaded
 * merge's, byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { type FileWriter, MemoryOutputFolder, type OutputFolder } from '../../src/core/io/output-folder';
import type { TensorBackend } from '../../src/core/merge/backend';
import type { TensorWorkerPool, WorkerMessage } from '../../src/core/merge/parallel/protocol';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { nodeTensorWorkers } from '../../src/node/merge-threads';
import { ALL_METHOD_RECIPES, firstDifference } from '../helpers/backend-identity';
import { tinyCheckpoint } from '../helpers/checkpoints';

// The embedding: 256 × 16 = 4096 elements, 256 chunks of 16; every other tensor but lm_head has at most 24.
const SHAPE = { layers: 2, hidden: 16, intermediate: 24, vocab: 256 };
const models = async () => [
  await tinyCheckpoint('base', { seed: 1, dtype: 'BF16', ...SHAPE }),
  await tinyCheckpoint('a', { seed: 2, dtype: 'BF16', like: { seed: 1, scale: 0.05 }, ...SHAPE }),
  await tinyCheckpoint('b', { seed: 3, dtype: 'BF16', like: { seed: 1, scale: 0.08 }, ...SHAPE }),
];

interface Write {
  readonly file: string;
  readonly at: number;
  readonly length: number;
}

/** A MemoryOutputFolder that records every write, appended or positional, with its absolute offset. */
class RecordingFolder implements OutputFolder {
  readonly inner = new MemoryOutputFolder('recorded');
  readonly writes: Write[] = [];
  readonly name = this.inner.name;
  async create(file: string): Promise<FileWriter> {
    const w = await this.inner.create(file);
    const writes = this.writes;
    let cursor = 0;
    return {
      async write(bytes) {
        writes.push({ file, at: cursor, length: bytes.byteLength });
        cursor += bytes.byteLength;
        await w.write(bytes);
      },
      async writeAt(position, bytes) {
        writes.push({ file, at: position, length: bytes.byteLength });
        await w.writeAt(position, bytes);
      },
      close: () => w.close(),
      abort: () => w.abort(),
    };
  }
  rename = (from: string, to: string) => this.inner.rename(from, to);
  remove = (file: string) => this.inner.remove(file);
  list = () => this.inner.list();
}

/**
 * The pool, with the first thread's messages (it merges the embedding) held until the second one
 * has sent an output chunk: a thread that is slow to start cannot hide what is tested.
 */
function evenStart(pool: TensorWorkerPool): TensorWorkerPool {
  let spawned = 0;
  let release = () => {};
  const secondWorking = new Promise<void>((r) => (release = r));
  return {
    ...pool,
    spawn() {
      const port = pool.spawn();
      const first = spawned++ === 0;
      return {
        post: (m, transfer) => port.post(m, transfer),
        close: () => port.close(),
        listen<M>(onMessage: (m: M) => void, onFailure?: (e: Error) => void) {
          port.listen((m: M) => {
            if (first) return void secondWorking.then(() => onMessage(m));
            if ((m as WorkerMessage).type === 'chunk') release();
            onMessage(m);
          }, onFailure);
        },
      };
    },
  };
}

/** The tensor (name) whose data holds byte `at` of each finished shard, from its header. */
function tensorAt(files: Map<string, Uint8Array>): (file: string, at: number) => string | undefined {
  const ranges = new Map<string, { name: string; begin: number; end: number }[]>();
  for (const [file, bytes] of files) {
    if (!file.endsWith('.safetensors')) continue;
    const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    ranges.set(
      file,
      Object.entries(header)
        .filter(([name]) => name !== '__metadata__')
        .map(([name, t]) => {
          const [b, e] = (t as { data_offsets: [number, number] }).data_offsets;
          return { name, begin: 8 + headerLen + b, end: 8 + headerLen + e };
        }),
    );
  }
  return (file, at) => ranges.get(file.replace(/\.partial$/, ''))?.find((r) => at >= r.begin && at < r.end)?.name;
}

describe('a parallel merge writes each chunk at its place as it comes', () => {
  it.each([
    ['ties', undefined],
    ['task_arithmetic', 4096], // several shards
  ] as const)('%s on 2 threads: later tensors are not held behind the embedding', async (method, shardBytes) => {
    const recipe = parseRecipe(ALL_METHOD_RECIPES[method]!).recipe;
    const opts = { chunkElements: 16, diagnostics: true, ...(shardBytes ? { shardBytes } : {}) };
    const run = async (workers?: TensorWorkerPool) => {
      const out = new RecordingFolder();
      const sources = new Map((await models()).map((m) => [m.name, m]));
      const backend = new CpuBackend() as TensorBackend<unknown>;
      const summary = await merge(recipe, sources, backend, out, { ...opts, ...(workers ? { workers } : {}) });
      return { out, summary };
    };
    const want = await run();
    const got = await run(evenStart(nodeTensorWorkers(2)));

    expect([...got.out.inner.files.keys()]).toEqual([...want.out.inner.files.keys()]);
    for (const [file, bytes] of want.out.inner.files)
      expect(firstDifference(got.out.inner.files.get(file), bytes), file).toBe(-1);
    expect(got.summary.diagnostics).toEqual(want.summary.diagnostics);
    expect(Object.keys(got.summary.diagnostics)).toEqual(Object.keys(want.summary.diagnostics));
    expect(got.summary.files).toEqual(want.summary.files);

    const owner = tensorAt(got.out.inner.files);
    const tensorOf = got.out.writes.map((w) => owner(w.file, w.at));
    const first = 'model.embed_tokens.weight';
    const lastOfFirst = tensorOf.lastIndexOf(first);
    const laterBefore = tensorOf.slice(0, lastOfFirst).filter((t) => t !== undefined && t !== first);
    expect(laterBefore.length).toBeGreaterThan(0);
    // The single-threaded merge, for contrast: strictly in plan order.
    const seqOwner = tensorAt(want.out.inner.files);
    const seq = want.out.writes.map((w) => seqOwner(w.file, w.at));
    expect(seq.slice(0, seq.lastIndexOf(first)).filter((t) => t !== undefined && t !== first)).toEqual([]);
  });
});
