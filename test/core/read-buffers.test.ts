/**
 * A single-threaded merge reads into its buffers again once the backend no longer reads them
 * (src/core/merge/read-buffers.ts, TensorBackend.onBytesFree): on real files, on the reference and
 * the fast CPU backend, a later read lands in an earlier read's buffer
 * and the merge's bytes are unchanged; a source's own memory (a view into it) is never taken over,
 * and a source that cannot read into a buffer (a Blob) is not offered one again.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobByteSource } from '../../src/core/io/byte-source';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import type { TensorBackend } from '../../src/core/merge/backend';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { FastCpuBackend } from '../../src/core/merge/fast/fast-cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { ReadBuffers } from '../../src/core/merge/read-buffers';
import { IdleBuffers } from '../../src/core/merge/idle-buffers';
import { parseRecipe } from '../../src/core/recipe/parse';
import { FsModelFolder, FsOutputFolder } from '../../src/node/fs-folder';
import { firstDifference } from '../helpers/backend-identity';
import { writeTinyModel } from '../helpers/checkpoints';

const KiB = 1024;

describe('ReadBuffers', () => {
  it('takes back only buffers its reads filled whole, and offers them to a later read up to 1.5× smaller', () => {
    const buffers = new ReadBuffers(1024 * KiB);
    const fresh = new Uint8Array(100 * KiB);
    buffers.readDone(fresh, undefined);
    const sourceView = new Uint8Array(300 * KiB).subarray(8, 8 + 100 * KiB); // a source's own memory
    buffers.readDone(sourceView, undefined);
    buffers.recycle(sourceView.buffer);
    expect(buffers.take(100 * KiB)).toBeUndefined();
    buffers.recycle(fresh.buffer);
    buffers.recycle(fresh.buffer); // once only
    expect(buffers.take(50 * KiB)).toBeUndefined(); // 100 KiB > 1.5 × 50 KiB
    const again = buffers.take(80 * KiB)!;
    expect([again.buffer, again.byteLength]).toEqual([fresh.buffer, 80 * KiB]);
    expect(buffers.take(80 * KiB)).toBeUndefined(); // taken
  });

  it('stops offering buffers to a source that returns fresh bytes instead (a Blob)', async () => {
    const buffers = new ReadBuffers();
    const first = new Uint8Array(100 * KiB);
    buffers.readDone(first, undefined);
    buffers.recycle(first.buffer);
    const into = buffers.take(100 * KiB)!;
    const blob = new BlobByteSource(new Blob([new Uint8Array(200 * KiB)]), 'x.safetensors');
    buffers.readDone(await blob.read(0, 100 * KiB, into), into);
    buffers.recycle(into.buffer);
    expect(buffers.take(100 * KiB)).toBeUndefined();
  });
});

describe('IdleBuffers with no slack (output buffers handed back once written)', () => {
  it('gives a buffer back for a store of exactly its length, once, and keeps at most its cap', () => {
    const spare = new IdleBuffers<ArrayBuffer>(3 * KiB);
    const [a, b, c] = [new ArrayBuffer(KiB), new ArrayBuffer(2 * KiB), new ArrayBuffer(KiB)];
    spare.give(a);
    spare.give(b);
    spare.give(c); // over the cap: left to the garbage collector
    expect(spare.take(KiB + 4, 1)).toBeUndefined();
    expect(spare.take(KiB, 1)).toBe(a);
    expect(spare.take(KiB, 1)).toBeUndefined();
    expect(spare.take(2 * KiB, 1)).toBe(b);
  });
});

describe.each([
  ['the reference backend (it copies its inputs)', () => new CpuBackend() as TensorBackend<unknown>],
  ['the fast CPU backend (it frees them once released)', () => new FastCpuBackend() as TensorBackend<unknown>],
])('a merge from files on %s', (_, backendOf) => {
  it('reads into earlier reads’ buffers, with the bytes of a merge that does not', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-read-buffers-'));
    const shape = { layers: 2, hidden: 64, intermediate: 256, vocab: 512 };
    writeTinyModel(path.join(dir, 'base'), { seed: 1, ...shape });
    writeTinyModel(path.join(dir, 'a'), { seed: 2, ...shape });
    const { recipe } = parseRecipe(
      'merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.5}}]',
    );
    const run = async (out: string, reuse: boolean) => {
      const folders = ['base', 'a'].map((m) => new FsModelFolder(path.join(dir, m)));
      const reads: Uint8Array[] = [];
      const intoUsed: boolean[] = [];
      const models = await Promise.all(folders.map((f) => Checkpoint.open(f)));
      for (const m of models)
        for (const shard of m.shards) {
          const readRange = shard.readRange.bind(shard);
          shard.readRange = async (name, start, count, into) => {
            const bytes = await readRange(name, start, count, reuse ? into : undefined);
            reads.push(bytes);
            intoUsed.push(into !== undefined && bytes.buffer === into.buffer);
            return bytes;
          };
        }
      await merge(recipe, new Map(models.map((m) => [m.name, m])), backendOf(), new FsOutputFolder(out), {
        chunkElements: 16 * KiB,
      });
      await Promise.all(folders.map((f) => f.close()));
      return { reads, intoUsed };
    };
    const plain = await run(path.join(dir, 'plain'), false);
    const reused = await run(path.join(dir, 'reused'), true);
    // Reads of 64 KiB and more are pooled: after the first of each size (and the read-ahead), most reuse a buffer.
    const large = reused.reads.flatMap((r, i) => (r.byteLength >= 64 * KiB ? [reused.intoUsed[i]!] : []));
    expect(large.length).toBeGreaterThan(10);
    expect(large.filter(Boolean).length).toBeGreaterThan(large.length / 2);
    expect(plain.intoUsed.filter(Boolean).length).toBe(0);
    const files = readdirSync(path.join(dir, 'plain')).sort();
    expect(readdirSync(path.join(dir, 'reused')).sort()).toEqual(files);
    for (const f of files) {
      const [a, b] = ['plain', 'reused'].map((d) => new Uint8Array(readFileSync(path.join(dir, d, f))));
      expect(firstDifference(b, a), f).toBe(-1);
    }
  });
});
