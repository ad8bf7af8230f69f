/**
 * A shard that changes under a running merge, on real files (FsModelFolder in, FsOutputFolder out),
 * on one thread and on two worker threads. Cut short between tensors: a SafetensorsError
 * 'truncated' naming the file and the tensor. A read the OS refuses (the shard's handle closed
 * mid-merge; an EIO cannot be had without root): a FileReadError naming both. Either way the output
 * folder holds nothing. Deleted or made unreadable (chmod 000) after the merge opened it: POSIX
 * keeps the open file, and the merge completes with the same bytes as an undisturbed one.
 */
import { promises as fs, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../src/core/errors';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { type MergeSummary, merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { FileReadError, FsModelFolder, FsOutputFolder } from '../../src/node/fs-folder';
import { nodeTensorWorkers } from '../../src/node/merge-threads';
import { firstDifference } from '../helpers/backend-identity';
import { writeTinyModel } from '../helpers/checkpoints';

const SHAPE = { layers: 2, hidden: 16, intermediate: 24, vocab: 40 };
const TA = 'merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.5}}]';
const SECOND_SHARD = 'model-00002-of-00002.safetensors';
type Fault = (shard: string, folder: FsModelFolder) => Promise<unknown>;

/** Merges base + a (two shards) from disk; after 5 tensors, `fault` strikes a's shard `shard`. */
async function mergeWithFault(threads: number, shard: string, fault?: Fault) {
  const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-shard-fault-'));
  writeTinyModel(path.join(dir, 'base'), { seed: 1, ...SHAPE });
  writeTinyModel(path.join(dir, 'a'), { seed: 2, ...SHAPE, shards: 2 });
  const folders = [new FsModelFolder(path.join(dir, 'base')), new FsModelFolder(path.join(dir, 'a'))];
  const sources = new Map(await Promise.all(folders.map(async (f) => [f.name, await Checkpoint.open(f)] as const)));
  const out = path.join(dir, 'out');
  let struck: Promise<unknown> | undefined;
  const result = await merge(parseRecipe(TA).recipe, sources, new CpuBackend(), new FsOutputFolder(out), {
    chunkElements: 16,
    ...(threads > 1 ? { workers: nodeTensorWorkers(threads) } : {}),
    onProgress: (p) => {
      if (p.tensorsDone === 5 && fault) struck ??= fault(path.join(dir, 'a', shard), folders[1]!);
    },
  }).catch((e: unknown) => e);
  await struck;
  await Promise.all(folders.map((f) => f.close()));
  const files = readdirSync(out).sort();
  return { result, files, read: (f: string) => new Uint8Array(readFileSync(path.join(out, f))) };
}

let undisturbed: ReturnType<typeof mergeWithFault> | undefined;

describe.each([1, 2])('a shard that changes mid-merge (%i thread(s))', (threads) => {
  it('cut short: SafetensorsError naming the file and the tensor, nothing left in the output folder', async () => {
    const { result, files } = await mergeWithFault(threads, SECOND_SHARD, (shard) => fs.truncate(shard, 100));
    expect(result).toBeInstanceOf(SafetensorsError);
    expect(result).toMatchObject({ code: 'truncated', file: SECOND_SHARD, tensor: expect.stringMatching(/^model\./) });
    expect(files).toEqual([]);
  });

  it('its reads refused by the OS: FileReadError naming the file and the tensor, nothing left', async () => {
    const { result, files } = await mergeWithFault(threads, SECOND_SHARD, (_, folder) => folder.close());
    expect(result).toBeInstanceOf(FileReadError);
    expect(result).toMatchObject({ code: 'unreadable', file: expect.stringMatching(/^model-0000[12]-of-00002/) });
    expect((result as FileReadError).tensor).toMatch(/^model\./);
    expect((result as Error).message).toMatch(/the file could not be read \(.+\) \(reading tensor 'model\.[\w.]+'\)/);
    expect(files).toEqual([]);
  });

  it.each([
    ['deleted', (shard: string) => fs.rm(shard)],
    ['chmod 000', (shard: string) => fs.chmod(shard, 0)],
  ] as const)('%s: the merge completes with the bytes of an undisturbed one', async (_, fault) => {
    const want = await (undisturbed ??= mergeWithFault(1, SECOND_SHARD));
    const got = await mergeWithFault(threads, SECOND_SHARD, fault);
    expect((got.result as MergeSummary).tensors).toBe((want.result as MergeSummary).tensors);
    expect(got.files).toEqual(want.files);
    for (const f of want.files) expect(firstDifference(got.read(f), want.read(f)), f).toBe(-1);
  });
});
