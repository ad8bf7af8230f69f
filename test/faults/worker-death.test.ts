/**
 * A merge worker thread that dies mid-merge (merge --threads N): the tensor it held is merged again
 * on a fresh thread and the output is the same bytes as a merge that lost no worker; a tensor whose
 * threads keep dying fails the merge after MAX_TENSOR_ATTEMPTS tries with a MergeError naming it,
 * nothing written, every thread stopped. Real threads die for real: process.exit inside the thread
 * (fixtures/dying-merge-thread.mjs) or worker.terminate() from the CLI's side
 * (fixtures/kill-merge-thread.mjs).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MergeError } from '../../src/core/errors';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { MAX_TENSOR_ATTEMPTS } from '../../src/core/merge/parallel/pool-run';
import type { TensorWorkerPool } from '../../src/core/merge/parallel/protocol';
import { parseRecipe } from '../../src/core/recipe/parse';
import { nodeTensorWorkers } from '../../src/node/merge-threads';
import { ALL_METHOD_RECIPES, firstDifference } from '../helpers/backend-identity';
import { tinyCheckpoint } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { folderFiles, tiesOnDisk } from '../helpers/ties-on-disk';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const SHAPE = { layers: 2, hidden: 16, intermediate: 24, vocab: 40 };
const VICTIM = 'model.layers.0.mlp.up_proj.weight'; // 384 elements: 24 chunks of 16
const models = async () => [
  await tinyCheckpoint('base', { seed: 1, dtype: 'BF16', ...SHAPE }),
  await tinyCheckpoint('a', { seed: 2, dtype: 'BF16', like: { seed: 1, scale: 0.05 }, ...SHAPE, shards: 2 }),
  await tinyCheckpoint('b', { seed: 3, dtype: 'BF16', like: { seed: 1, scale: 0.08 }, ...SHAPE }),
];

/** Three threads of which those merging VICTIM die after 5 chunks of it, `deaths` times in all; counts closes. */
function dyingPool(deaths: number) {
  const counter = new Int32Array(new SharedArrayBuffer(8));
  counter[0] = deaths;
  const pool = nodeTensorWorkers(3, 'cpu', {
    entry: new URL('./fixtures/dying-merge-thread.mjs', import.meta.url),
    workerData: { fault: { tensor: VICTIM, afterChunks: 5, deaths: counter } },
  });
  const threads = { started: 0, closed: 0 };
  const counted: TensorWorkerPool = {
    ...pool,
    spawn() {
      const port = pool.spawn();
      threads.started++;
      return { ...port, listen: port.listen.bind(port), close: () => (threads.closed++, port.close()) };
    },
  };
  return { pool: counted, threads, died: () => counter[1]! };
}

const sameFiles = (got: Map<string, Uint8Array>, want: Map<string, Uint8Array>) => {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [file, bytes] of want) expect(firstDifference(got.get(file), bytes), file).toBe(-1);
};

describe('a merge thread that dies', () => {
  const opts = { chunkElements: 16, diagnostics: true };

  it('once: its tensor is merged again on a new thread, the same bytes, and the summary says so', async () => {
    const want = await runMerge(ALL_METHOD_RECIPES.dare_ties!, await models(), opts); // one thread: the same bytes
    const { pool, threads, died } = dyingPool(1);
    const got = await runMerge(ALL_METHOD_RECIPES.dare_ties!, await models(), { ...opts, workers: pool });
    expect(died()).toBe(1);
    sameFiles(got.out.files, want.out.files);
    expect(got.summary.diagnostics).toEqual(want.summary.diagnostics);
    expect(got.summary.bytesRead).toBe(want.summary.bytesRead);
    expect(got.summary.warnings.filter((w) => w.code === 'worker-restarted')).toEqual([
      expect.objectContaining({ tensor: VICTIM, message: expect.stringMatching(/exited with code 70.*try 2 of 3/) }),
    ]);
    expect(threads.started).toBe(4);
  });

  it(`every time: a MergeError naming the tensor after ${MAX_TENSOR_ATTEMPTS} tries, nothing written, threads stopped`, async () => {
    const { pool, threads, died } = dyingPool(100);
    const out = new MemoryOutputFolder();
    const sources = new Map((await models()).map((m) => [m.name, m]));
    const recipe = parseRecipe(ALL_METHOD_RECIPES.ties!).recipe;
    const failed = await merge(recipe, sources, new CpuBackend(), out, { ...opts, workers: pool }).catch(
      (e: unknown) => e,
    );
    expect(await out.list()).toEqual([]);
    expect(failed).toBeInstanceOf(MergeError);
    expect(failed).toMatchObject({ code: 'backend', tensor: VICTIM });
    expect((failed as Error).message).toMatch(/a merge worker stopped while merging this tensor .*3 times in a row/);
    expect(died()).toBe(MAX_TENSOR_ATTEMPTS);
    expect(threads.started).toBe(3 + MAX_TENSOR_ATTEMPTS - 1);
    expect(threads.closed).toBeGreaterThanOrEqual(threads.started);
  });
});

describe('merge-lab merge --threads 3 with a thread terminated mid-merge', () => {
  const { dir, recipe } = tiesOnDisk('merge-lab-thread-death-', SHAPE);
  const files = folderFiles;
  const killing = (times: number) => ({
    env: { ...process.env, KILL_MERGE_THREAD_TENSOR: VICTIM, KILL_MERGE_THREAD_TIMES: String(times) },
  });
  const mergeCli = (out: string, threads: number, extra: { env?: NodeJS.ProcessEnv } = {}) =>
    run(
      'node',
      [
        '--import',
        './test/faults/fixtures/kill-merge-thread.mjs',
        BIN,
        'merge',
        recipe,
        '--out',
        path.join(dir, out),
        '--backend',
        'cpu',
        '--threads',
        String(threads),
      ],
      extra,
    );

  it('once: the merge completes, file for file the bytes of --threads 1, with a warning', async () => {
    await mergeCli('one', 1);
    const { stdout, stderr } = await mergeCli('killed-once', 3, killing(1));
    expect(stderr).toMatch(/fault: terminating the merge thread holding model\.layers\.0\.mlp\.up_proj\.weight/);
    expect(stdout).toMatch(/warning: a merge worker stopped while merging model\.layers\.0\.mlp\.up_proj\.weight/);
    sameFiles(files(path.join(dir, 'killed-once')), files(path.join(dir, 'one')));
  }, 60_000);

  it('every time: exit 1 naming the tensor, no output folder', async () => {
    const err = await mergeCli('killed-always', 3, killing(100)).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(
      /merge-lab merge: MergeError: tensor 'model\.layers\.0\.mlp\.up_proj\.weight': a merge worker stopped while merging this tensor \(worker thread exited with code 1\), 3 times in a row/,
    );
    expect(existsSync(path.join(dir, 'killed-always'))).toBe(false);
  }, 60_000);
});
