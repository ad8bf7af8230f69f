/**
 * Merges spread over worker threads (merge-lab merge --threads N, MergeOptions.workers): the same
 * bytes as one thread and as the reference backend, in the same files; more threads than tensors;
 * errors keep their class, code, file and tensor; a failed or cancelled merge leaves no output.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AbortError, MergeError, RecipeError, SafetensorsError } from '../../src/core/errors';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import type { TensorBackend } from '../../src/core/merge/backend';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { errorRecord, rebuildError } from '../../src/core/merge/parallel/protocol';
import { parseRecipe } from '../../src/core/recipe/parse';
import { FsModelFolder } from '../../src/node/fs-folder';
import { nodeTensorWorkers } from '../../src/node/merge-threads';
import { tinyCheckpoint, tinyModelFiles } from '../helpers/checkpoints';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';
import { ALL_METHOD_RECIPES, firstDifference } from '../helpers/backend-identity';
import { createMergeWorkerApi } from '../../src/workers/merge.worker';
import { interceptShardReads } from '../helpers/shard-reads';
import { folderFiles, tiesOnDisk } from '../helpers/ties-on-disk';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const SHAPE = { layers: 2, hidden: 16, intermediate: 24, vocab: 40 };

const models = (dtype: 'F16' | 'BF16') => async () => [
  await tinyCheckpoint('base', { seed: 1, dtype, ...SHAPE }),
  await tinyCheckpoint('a', { seed: 2, dtype, like: { seed: 1, scale: 0.05 }, ...SHAPE, shards: 2 }),
  await tinyCheckpoint('b', { seed: 3, dtype, like: { seed: 1, scale: 0.08 }, ...SHAPE }),
];

function expectSameFiles(got: Map<string, Uint8Array>, want: Map<string, Uint8Array>) {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [file, bytes] of want) expect(firstDifference(got.get(file), bytes), file).toBe(-1);
}

describe('merges on worker threads = the reference, byte for byte', () => {
  it.each([
    ['ties', 'BF16', 37],
    ['dare_ties', 'F16', 50],
    ['breadcrumbs_ties', 'BF16', 64],
    ['tsv', 'F16', undefined],
  ] as const)('%s (%s, chunks of %s) on 3 threads', async (method, dtype, chunkElements) => {
    const recipe = ALL_METHOD_RECIPES[method]!;
    const opts = { chunkElements, diagnostics: true };
    const want = await runMerge(recipe, await models(dtype)(), {
      ...opts,
      backend: new CpuBackend() as TensorBackend<unknown>,
    });
    const spectra: string[] = [];
    const got = await runMerge(recipe, await models(dtype)(), {
      ...opts,
      workers: nodeTensorWorkers(3),
      onSpectrum: (d) => spectra.push(`${d.tensor}/${d.model}`),
    });
    expectSameFiles(got.out.files, want.out.files);
    expect(got.summary.diagnostics).toEqual(want.summary.diagnostics);
    expect(Object.keys(got.summary.diagnostics)).toEqual(Object.keys(want.summary.diagnostics));
    expect(got.summary.bytesRead).toBe(want.summary.bytesRead);
    expect(got.summary.backend).toBe('cpu × 3 workers');
    if (method === 'tsv') expect(spectra.length).toBeGreaterThan(0);
  });

  it('more threads than tensors', async () => {
    const tensors = {
      'model.embed_tokens.weight': { shape: [4, 3], values: [...Array(12).keys()].map((i) => i / 7) },
      'model.norm.weight': { shape: [3], values: [1, 2, 3] },
    };
    const other = Object.fromEntries(
      Object.entries(tensors).map(([n, t]) => [n, { ...t, values: t.values.map((v) => v * 1.5 - 0.25) }]),
    );
    const open = async () => [
      await valuesCheckpoint('base', tensors, 'BF16'),
      await valuesCheckpoint('a', other, 'BF16'),
    ];
    const recipe = 'merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.3}}]';
    const want = await runMerge(recipe, await open(), { backend: new CpuBackend() as TensorBackend<unknown> });
    const got = await runMerge(recipe, await open(), { workers: nodeTensorWorkers(8) });
    expectSameFiles(got.out.files, want.out.files);
    expect(got.summary.backend).toBe('cpu × 2 workers');
  });
});

describe("the page's merge worker without WebGPU", () => {
  it('merges on the fast CPU backend spread over its tensor workers, the reference bytes', async () => {
    const api = createMergeWorkerApi(
      async () => undefined,
      () => nodeTensorWorkers(2),
    );
    const files = (o: Parameters<typeof tinyModelFiles>[0]) => Object.fromEntries(tinyModelFiles(o));
    const models = {
      base: files({ seed: 1, dtype: 'BF16', ...SHAPE }),
      a: files({ seed: 2, dtype: 'BF16', like: { seed: 1, scale: 0.05 }, ...SHAPE }),
      b: files({ seed: 3, dtype: 'BF16', like: { seed: 1, scale: 0.08 }, ...SHAPE }),
    };
    const recipe = ALL_METHOD_RECIPES.dare_ties!;
    const got = await api.merge({ recipe, models, chunkElements: 100 });
    expect(got.backendNotice).toMatch(/^cpu, 2 workers \(no WebGPU/);
    expect(got.summary.backend).toBe('cpu × 2 workers');
    const want = await api.merge({ recipe, models, chunkElements: 100, backend: 'cpu-reference' });
    expect(want.backendNotice).toBe('cpu (reference)');
    expectSameFiles(
      new Map(Object.entries(got.files) as [string, Uint8Array][]),
      new Map(Object.entries(want.files) as [string, Uint8Array][]),
    );
  });
});

describe('errors and cancel on worker threads', () => {
  it('a shard cut short mid-merge: SafetensorsError naming file and tensor, nothing written', async () => {
    let cut = false;
    const shrinking = interceptShardReads(new MapModelFolder('slow', tinyModelFiles({ seed: 2 })), (src, o, l) =>
      cut && o > 1000 ? src.read(o, 0) : src.read(o, l),
    );
    const slow = await Checkpoint.open(shrinking);
    cut = true;
    const out = new MemoryOutputFolder();
    const recipe =
      'merge_method: ties\nbase_model: quick\nmodels: [{model: slow, parameters: {weight: 1, density: 0.3}}]';
    const sources = new Map([
      ['quick', await tinyCheckpoint('quick', { seed: 1 })],
      ['slow', slow],
    ]);
    const err = await merge(parseRecipe(recipe).recipe, sources, new CpuBackend(), out, {
      workers: nodeTensorWorkers(2),
      chunkElements: 16,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as SafetensorsError).code).toBe('truncated');
    expect((err as SafetensorsError).file).toBe('model.safetensors');
    expect((err as SafetensorsError).tensor).toMatch(/^model\./);
    expect(await out.list()).toEqual([]);
  });

  it('cancel: AbortError, nothing written', async () => {
    const ac = new AbortController();
    const out = new MemoryOutputFolder();
    const [base, a, b] = await models('BF16')();
    const err = await merge(
      parseRecipe(ALL_METHOD_RECIPES.ties!).recipe,
      new Map([base!, a!, b!].map((m) => [m.name, m])),
      new CpuBackend(),
      out,
      {
        workers: nodeTensorWorkers(2),
        chunkElements: 16,
        signal: ac.signal,
        onProgress: (p) => p.bytesDone > 0 && ac.abort(),
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(await out.list()).toEqual([]);
  });

  it('a LabError crosses the worker boundary with its class, code, file, tensor and field', () => {
    const errors = [
      new SafetensorsError('truncated', 'model-00002.safetensors', 'cut short', 'model.norm.weight'),
      new MergeError('shape-mismatch', 'shapes differ', 'model.layers.0.mlp.up_proj.weight'),
      new RecipeError('models[1].parameters.density', 'must be in [0, 1]'),
      new AbortError('merge'),
    ];
    for (const e of errors) {
      const back = rebuildError(structuredClone(errorRecord(e)));
      expect(back).toBeInstanceOf(e.constructor);
      expect(back).toMatchObject({
        name: e.name,
        code: e.code,
        message: e.message,
        file: e.file,
        tensor: e.tensor,
        field: e.field,
      });
    }
    const plain = rebuildError(structuredClone(errorRecord(new TypeError('boom'))));
    expect(plain).toMatchObject({ name: 'TypeError', message: 'boom' });
  });
});

describe('merge-lab merge --threads', () => {
  const { dir, recipe } = tiesOnDisk('merge-lab-threads-', SHAPE);
  const files = folderFiles;

  it('--threads 3 = --threads 1 = --backend cpu-reference, file for file', async () => {
    const outs: Record<string, string> = {};
    for (const [label, flags] of [
      ['reference', ['--backend', 'cpu-reference']],
      ['one', ['--backend', 'cpu', '--threads', '1']],
      ['three', ['--backend', 'cpu', '--threads', '3', '--shard-size', '4KiB']],
    ] as const) {
      outs[label] = path.join(dir, label);
      const { stdout, stderr } = await run('node', [BIN, 'merge', recipe, '--out', outs[label]!, ...flags]);
      expect(stdout).toMatch(/merged \d+ tensors with ties on cpu/);
      if (label === 'three') expect(stderr).toMatch(/backend: cpu \(fast\), 3 threads/);
    }
    expectSameFiles(files(outs.one!), files(outs.reference!));
    // Sharded differently: every tensor's bytes still match the reference.
    const sharded = await Checkpoint.open(new FsModelFolder(outs.three!));
    const ref = await Checkpoint.open(new FsModelFolder(outs.reference!));
    expect(sharded.shards.length).toBeGreaterThan(1);
    for (const [name, t] of ref.tensors)
      expect(
        firstDifference(await sharded.tensor(name)!.file.readRange(name), await t.file.readRange(name)),
        name,
      ).toBe(-1);
    await Promise.all([sharded.close(), ref.close()]);
  }, 120_000);

  it('--threads 0 is a usage error', async () => {
    const err = await run('node', [BIN, 'merge', recipe, '--out', path.join(dir, 'zero'), '--threads', '0']).catch(
      (e) => e,
    );
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/--threads must be a whole number ≥ 1/);
  });
});
