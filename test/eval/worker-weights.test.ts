/**
 * The evaluation worker's weight loading, over a real MessageChannel in Node (wasm EP): packed q4
 * weights go to the cache and the next load reuses them (same answers, nothing packed, the entry
 * named by the checkpoint's content key); without OPFS (Node) or over quota, loads pack without
 * caching and say so in a warning; q4 block sizes 64 / 128 reach the graph (128 fails on
 * demo-quick's K = 192 with the InferError naming the tensor, before hashing); `force` loads a
 * model the plan refuses; plans and loads use the evaluation's real budget (its longest tokenized
 * prompt + max new tokens); cancel() stops a load. The OPFS cache itself is tested in Chromium (test/e2e).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { WebGpuBackend } from '../../src/gpu/backend';
import type { WeightsStore } from '../../src/browser/opfs-weights-cache';
import { type WeightFileData, filePieces } from '../../src/infer/on-demand-weights';
import { LabError } from '../../src/core/errors';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { parseProblemSet } from '../../src/core/eval/problem-set';
import { spread } from '../../src/core/eval/run';
import { MapModelFolder, type ModelFolder } from '../../src/core/io/byte-source';
import { WASM_OVERHEAD_BYTES } from '../../src/infer/memory-plan';
import type { WeightsManifest } from '../../src/infer/prepared-weights';
import { ChatTokenizer } from '../../src/infer/tokenizer';
import { FsModelFolder } from '../../src/node/fs-folder';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { checkpointKey } from '../../src/node/weights-cache';
import { type EvalClient, type LoadProgress } from '../../src/workers/eval-client';
import { createEvalWorkerApi } from '../../src/workers/eval.worker';
import { folderBlobs, useEvalWorker } from '../helpers/eval-worker';

const QUICK = 'public/models/demo-quick';
const SET = readFileSync('public/data/arith-heldout.jsonl', 'utf8');
const EVAL = { setText: SET, setName: 'arith-heldout', limit: 2, maxNewTokens: 16 };

/** A cache in memory, with the OPFS cache's contract (complete entries only, same manifest). */
class MemoryStore implements WeightsStore {
  readonly entries = new Map<string, { files: Map<string, Uint8Array>; manifest: WeightsManifest }>();
  failWith: unknown;
  /** Files left out of the entries it hands back (an entry the load cannot use). */
  lose: string[] = [];
  async find(entry: string, expected: WeightsManifest): Promise<ModelFolder | undefined> {
    const e = this.entries.get(entry);
    if (!e || JSON.stringify(e.manifest) !== JSON.stringify(expected)) return undefined;
    const files = new Map([...e.files].filter(([name]) => !this.lose.includes(name)));
    files.set('merge-lab.weights.json', new TextEncoder().encode(JSON.stringify(e.manifest)));
    return new MapModelFolder(entry, files);
  }
  async store(entry: string, files: readonly { path: string; data: WeightFileData }[], manifest: WeightsManifest) {
    if (this.failWith) throw this.failWith;
    const written = new Map<string, Uint8Array>();
    for (const f of files) {
      const out = new Uint8Array(f.data.byteLength);
      let at = 0;
      for await (const piece of filePieces(f.data)) out.set(piece, (at += piece.byteLength) - piece.byteLength);
      written.set(f.path, out);
    }
    this.entries.set(entry, { files: written, manifest });
  }
}

async function answers(client: EvalClient, name: string): Promise<string[]> {
  const run = await client.evaluate({ models: [{ name }], ...EVAL });
  return run.models[0]!.responses.map((r) => r.text);
}

describe('evaluation worker: cached, forced and planned loads', () => {
  const store = new MemoryStore();
  const cached = useEvalWorker(async () => store);
  const noOpfs = useEvalWorker(); // Node has no OPFS: the default store cannot open

  it('packs q4 once into the cache, and the next load reuses it with the same answers', async () => {
    const progress: LoadProgress[] = [];
    const loadQ4 = () =>
      cached.load('q4', folderBlobs(QUICK), 'wasm', { weights: 'q4' }, { onProgress: (p) => void progress.push(p) });
    await loadQ4();
    expect(await cached.loadedFormat('q4')).toMatchObject({ weights: 'packed', cached: true, warnings: [] });
    expect([...store.entries.keys()]).toEqual([`${await checkpointKey(QUICK)}.q4-32`]);
    await expect.poll(() => progress.some((p) => p.stage === 'packing' && p.done === p.total)).toBe(true);
    const hashed = progress.filter((p) => p.stage === 'hashing');
    expect(hashed.at(-1)!.done).toBe(hashed.at(-1)!.total);
    const first = await answers(cached, 'q4');

    progress.length = 0;
    await loadQ4();
    expect(await cached.loadedFormat('q4')).toMatchObject({ weights: 'cache', format: 'q4', blockSize: 32 });
    expect(await answers(cached, 'q4')).toEqual(first);
    await new Promise((r) => setTimeout(r, 50));
    expect(progress.filter((p) => p.stage === 'packing')).toEqual([]);
  }, 120_000);

  it('the WGSL packer (packer: webgpu, lavapipe) writes the cache entry the CPU spec writes, and answers the same', async () => {
    const gpuStore = new MemoryStore();
    const gpu = useEvalWorker(async () => gpuStore);
    const packQ4 = vi.spyOn(WebGpuBackend.prototype, 'packQ4');
    await gpu.load('q4', folderBlobs(QUICK), 'wasm', { weights: 'q4', packer: 'webgpu' });
    expect(packQ4).toHaveBeenCalled();
    const [entry] = [...gpuStore.entries.keys()];
    expect(entry).toBe(`${await checkpointKey(QUICK)}.q4-32`);
    // The CPU-packed entry of the same checkpoint (first test of this block) holds the same bytes.
    expect(gpuStore.entries.get(entry!)!.files).toEqual(store.entries.get(entry!)!.files);
    expect(await gpu.loadedFormat('q4')).toMatchObject({ weights: 'packed', cached: true });
    expect(await answers(gpu, 'q4')).toEqual(await answers(cached, 'q4'));
    packQ4.mockRestore();
  }, 180_000);

  it('an entry the load cannot read is passed over with a warning and the weights packed again', async () => {
    store.lose = ['merge-lab.weights.0.bin'];
    try {
      await cached.load('q4-lost', folderBlobs(QUICK), 'wasm', { weights: 'q4' });
    } finally {
      store.lose = [];
    }
    const f = await cached.loadedFormat('q4-lost');
    expect(f).toMatchObject({ weights: 'packed', cached: false });
    expect(f!.warnings).toEqual([
      expect.objectContaining({
        code: 'prepared-weights-mismatch',
        message: expect.stringMatching(/merge-lab\.weights\.0\.bin.*packing the weights again/),
      }),
    ]);
    expect(await answers(cached, 'q4-lost')).toHaveLength(2);
  }, 120_000);

  it('without OPFS, or over quota, packs for this load only and says so in a warning', async () => {
    await noOpfs.load('q4', folderBlobs(QUICK), 'wasm', { weights: 'q4' });
    const f = await noOpfs.loadedFormat('q4');
    expect(f).toMatchObject({ weights: 'packed', cached: false });
    expect(f!.warnings.map((w) => w.code)).toEqual(['weights-cache-unavailable']);
    expect(await answers(noOpfs, 'q4')).toHaveLength(2);

    store.failWith = new DOMException('quota exceeded', 'QuotaExceededError');
    try {
      await cached.load('f16', folderBlobs(QUICK), 'wasm', { weights: 'f16' });
    } finally {
      store.failWith = undefined;
    }
    const g = await cached.loadedFormat('f16');
    expect(g).toMatchObject({ format: 'f16', weights: 'packed', cached: false });
    expect(g!.warnings[0]).toMatchObject({ code: 'weights-cache-unavailable', message: /could not be written/ });
  }, 120_000);

  it("cancel() during a load's hashing stops it with an AbortError and leaves nothing loaded", async () => {
    // The API in-process: cancel() lands exactly at the first progress report.
    const api = createEvalWorkerApi(nodeRuntimeAdapter(), async () => new MemoryStore());
    const files = Object.fromEntries(folderBlobs(QUICK));
    const stages: string[] = [];
    const e = await api
      .load('cancelled', files, 'wasm', { weights: 'q4' }, (p) => {
        stages.push(p.stage);
        api.cancel();
      })
      .catch((err: unknown) => err);
    expect(e).toMatchObject({ name: 'AbortError', code: 'aborted' });
    expect(stages).toEqual(['hashing']);
    expect(api.loadedFormat('cancelled')).toBeUndefined();
  });

  it('q4 block sizes reach the graph; one the shapes cannot use names the tensor before hashing', async () => {
    await cached.load('q4-64', folderBlobs(QUICK), 'wasm', { weights: 'q4', blockSize: 64 });
    expect(await cached.loadedFormat('q4-64')).toMatchObject({ format: 'q4', blockSize: 64, weights: 'packed' });
    expect([...store.entries.keys()].some((k) => k.endsWith('.q4-64'))).toBe(true);
    const progress: LoadProgress[] = [];
    const e = await cached
      .load(
        'q4-128',
        folderBlobs(QUICK),
        'wasm',
        { weights: 'q4', blockSize: 128 },
        { onProgress: (p) => progress.push(p) },
      )
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(LabError);
    // The first q4 tensor the graph packs (every one has K = 192 = hidden size).
    const tensor = (e as LabError).tensor!;
    expect(e).toMatchObject({ name: 'InferError', code: 'weight-format' });
    expect(tensor).toMatch(/^model\.(embed_tokens|layers\.0\.self_attn\.q_proj)\.weight$/);
    expect((e as Error).message).toContain(`tensor '${tensor}'`);
    expect((e as Error).message).toMatch(/not a multiple of 128 \(block size 32 would work\)/);
    expect(progress).toEqual([]);
    expect(await cached.loadedFormat('q4-128')).toBeUndefined();
  }, 120_000);

  it('force loads a model the plan refuses, with the advice as a warning', async () => {
    const tight = { tokenBudget: 256, wasmHeapBytes: WASM_OVERHEAD_BYTES + 10e6 };
    const refused = await cached.load('tight', folderBlobs(QUICK), 'wasm', tight).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'InferError', code: 'does-not-fit' });
    await cached.load('tight', folderBlobs(QUICK), 'wasm', { ...tight, force: true });
    const f = await cached.loadedFormat('tight');
    expect(f).toMatchObject({ format: 'f32', weights: 'checkpoint', summary: /does not fit/ });
    expect(f!.warnings.map((w) => w.code)).toContain('forced-load');
    expect(await answers(cached, 'tight')).toHaveLength(2);
  }, 120_000);

  it("plans and loads with the evaluation's budget: its longest tokenized prompt + max new tokens", async () => {
    const folder = new FsModelFolder(QUICK);
    const ckpt = await Checkpoint.open(folder);
    const tok = await ChatTokenizer.load(folder, ckpt.config!.raw);
    const set = parseProblemSet(SET, 'arith-heldout');
    const promptTokens = (limit?: number) =>
      Math.max(
        ...spread(set.problems, limit).map(
          (p) => tok.encode(tok.applyChatTemplate([{ role: 'user', content: p.question }])).length,
        ),
      );
    await folder.close();
    const planned = { ...EVAL, limit: 5, maxNewTokens: 100 };
    const expected = promptTokens(5) + 100;
    const all = promptTokens() + 100;
    expect(all).toBeGreaterThan(expected); // the selection matters

    const plans = await cached.planFormats(new Map([['demo-quick', folderBlobs(QUICK)]]), 'wasm', {
      plannedEval: planned,
    });
    expect(plans!.plans.map((p) => p.tokenBudget)).toEqual([expected, expected, expected]);
    const whole = await cached.planFormats(new Map([['demo-quick', folderBlobs(QUICK)]]), 'wasm', {
      plannedEval: { ...planned, limit: undefined },
    });
    expect(whole!.plans[0]!.tokenBudget).toBe(all);

    await cached.load('planned', folderBlobs(QUICK), 'wasm', { plannedEval: planned });
    expect(await cached.loadedFormat('planned')).toMatchObject({ tokenBudget: expected });
    expect(await cached.tokenBudget('planned', { ...planned, maxNewTokens: 300 })).toBe(expected + 200);
  }, 120_000);
});
