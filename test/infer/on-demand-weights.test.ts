/**
 * Weights made while onnxruntime-web reads them (src/infer/on-demand-weights.ts): the session
 * reads every byte through them, gets the logits of whole files (Δ = 0) in f16 and q4 (chunked
 * tied head included), never materializes the files, and a checkpoint without synchronous reads
 * (Blobs outside a worker) falls back to whole files.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { DerivedWeights } from '../../src/infer/derived-weights';
import { buildGraph } from '../../src/infer/graph';
import { CausalLM, type LoadOptions, graphExternalData, specOf, weightRefs } from '../../src/infer/model';
import { openSession } from '../../src/infer/runtime';
import { OnDemandFile, onDemandFiles, unreadOnDemandBytes } from '../../src/infer/on-demand-weights';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { tinyModelFiles } from '../helpers/checkpoints';
import { HEAD128 } from './shapes';

const adapter = nodeRuntimeAdapter();
const IDS = [3, 17, 5, 42, 9, 1, 30, 2];
afterEach(() => vi.restoreAllMocks());

async function logits(ckpt: Checkpoint, opts: LoadOptions) {
  const lm = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, allLogits: true, ...opts });
  const out = (await lm.forward(IDS)).logits;
  await lm.release();
  return { out, graph: lm.graph };
}

describe('weights made on demand', () => {
  it.each([
    ['demo-quick, q4', () => Checkpoint.open(new FsModelFolder('public/models/demo-quick')), { weights: 'q4' }],
    ['demo-quick, f16', () => Checkpoint.open(new FsModelFolder('public/models/demo-quick')), { weights: 'f16' }],
    [
      'tied head_dim 128, q4, head and projections in row chunks',
      () => Checkpoint.open(new MapModelFolder('tied', tinyModelFiles(HEAD128))),
      { weights: 'q4', q4ChunkBytes: 4096 },
    ],
  ] as const)('%s: the logits of whole files, nothing materialized', async (_, open, opts) => {
    const ckpt = await open();
    const whole = await logits(ckpt, { ...opts, onDemand: false });
    const materialize = vi.spyOn(DerivedWeights.prototype, 'materialize');
    const lazy = await logits(ckpt, opts);
    expect(materialize).not.toHaveBeenCalled();
    expect(lazy.out).toEqual(whole.out);
    await ckpt.folder.close?.();
  });

  it('the session reads every initializer byte through subarray (the check the loader relies on)', async () => {
    const ckpt = await Checkpoint.open(new MapModelFolder('tied', tinyModelFiles(HEAD128)));
    const graph = buildGraph(specOf(ckpt), weightRefs(ckpt), { weights: 'q4', q4ChunkBytes: 4096 });
    const files = await graphExternalData(graph, ckpt, { weights: 'q4' });
    expect(files.every((f) => f.data instanceof OnDemandFile)).toBe(true);
    expect(unreadOnDemandBytes(graph.model, files)).toBeGreaterThan(0); // nothing read yet
    const { session } = await openSession(graph.model, files, 'wasm', adapter);
    await session.release();
    expect(unreadOnDemandBytes(graph.model, files)).toBe(0);
    // The views (head chunks, the embedding's 2-D view) read their bytes again: more than the files hold.
    const served = files.reduce((n, f) => n + (f.data as OnDemandFile).served, 0);
    expect(served).toBeGreaterThan(graph.derived!.totalBytes);
  });

  it('ranges produce the bytes materialize writes, in any order', async () => {
    const ckpt = await Checkpoint.open(new MapModelFolder('tied', tinyModelFiles(HEAD128)));
    const { graph } = await logits(ckpt, { weights: 'q4', q4ChunkBytes: 4096 });
    const whole = await graph.derived!.materialize(ckpt);
    const lazy = onDemandFiles(graph.derived!, ckpt);
    for (const [i, f] of lazy.entries()) {
      expect(f.data).toBeInstanceOf(OnDemandFile);
      const size = f.data.byteLength;
      const cuts = [0, 4, 100, 1024, size >> 1, size - 8, size].filter((c) => c <= size).sort((a, b) => a - b);
      for (const [a, b] of cuts
        .slice(1)
        .map((c, k) => [cuts[k]!, c] as const)
        .reverse())
        expect(f.data.subarray(a, b)).toEqual(whole[i]!.data.subarray(a, b));
    }
  });

  it('without synchronous reads (Blobs outside a worker) the files are made whole first', async () => {
    const blobs = new Map([...tinyModelFiles(HEAD128)].map(([n, b]) => [n, new Blob([b as Uint8Array<ArrayBuffer>])]));
    const ckpt = await Checkpoint.open(new MapModelFolder('blobs', blobs));
    const materialize = vi.spyOn(DerivedWeights.prototype, 'materialize');
    const viaBlobs = await logits(ckpt, { weights: 'q4' });
    expect(materialize).toHaveBeenCalledTimes(1);
    const inMemory = await logits(await Checkpoint.open(new MapModelFolder('tied', tinyModelFiles(HEAD128))), {
      weights: 'q4',
    });
    expect(viaBlobs.out).toEqual(inMemory.out);
  });
});
