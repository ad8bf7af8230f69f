/**
 * The memory plan wired into loading: a model that does not fit is refused with the plan's advice
 * before any weight is read or onnxruntime is loaded (and loads with `force`); a budget past
 * max_position_embeddings gets exactly one warning and generation runs on past it.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LabWarning } from '../../src/core/errors';
import type { ModelFolder } from '../../src/core/io/byte-source';
import { ChatModel } from '../../src/infer/engine';
import { InferError } from '../../src/infer/errors';
import { generate } from '../../src/infer/generate';
import { type MemoryPlan, WASM_OVERHEAD_BYTES } from '../../src/infer/memory-plan';
import type { RuntimeAdapter } from '../../src/infer/runtime';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { interceptShardReads } from '../helpers/shard-reads';

const QUICK = 'public/models/demo-quick';
const adapter = nodeRuntimeAdapter();
/** Room for ORT's overhead and 10 MB: demo-quick's 7.2 MB of f32 weights, held twice while the
 *  session is created, do not fit; its f16 and q4 weights do (for a short budget). */
const SMALL_HEAP = WASM_OVERHEAD_BYTES + 10e6;
const TOKENS = 64;

/** A folder that counts the bytes read from its safetensors shards. */
function countingFolder(inner: ModelFolder): { folder: ModelFolder; weightBytesRead: () => number } {
  let bytes = 0;
  const folder = interceptShardReads(inner, async (src, offset, length) => {
    const b = await src.read(offset, length);
    bytes += b.byteLength;
    return b;
  });
  return { folder, weightBytesRead: () => bytes };
}

describe('loading checks the memory plan first', () => {
  const quick = new FsModelFolder(QUICK);
  afterAll(() => quick.close());

  it('refuses a model that does not fit with the plan advice, before any weight is read or ORT loaded', async () => {
    const { folder, weightBytesRead } = countingFolder(quick);
    let ortLoads = 0;
    const spy: RuntimeAdapter = { ...adapter, loadOrt: (ep) => (ortLoads++, adapter.loadOrt!(ep)) };
    let plan: MemoryPlan | undefined;
    const err = await ChatModel.load(folder, {
      ep: 'wasm',
      adapter: spy,
      wasmHeapBytes: SMALL_HEAP,
      tokenBudget: TOKENS,
      onPlan: (p) => (plan = p),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferError);
    expect(err).toMatchObject({ code: 'does-not-fit' });
    expect(plan?.fits).toBe(false);
    expect((err as Error).message).toBe(plan!.advice);
    expect((err as Error).message).toMatch(
      /^demo-quick weights need .* in f32 .*over wasm's .* heap; f16 fits with up to 64 tokens\.$/,
    );
    expect(ortLoads).toBe(0);
    // Only the safetensors header was read (the tensors start past it).
    expect(weightBytesRead()).toBeLessThan(64 * 1024);
  });

  it('q4 fits where f32 does not; with force, f32 loads anyway and says so once', async () => {
    const q4 = await ChatModel.load(quick, {
      ep: 'wasm',
      adapter,
      weights: 'q4',
      wasmHeapBytes: SMALL_HEAP,
      tokenBudget: TOKENS,
    });
    expect(q4.lm.plan.plan).toMatchObject({ format: 'q4', fits: true });
    await q4.lm.release();

    const warnings: LabWarning[] = [];
    let summary = '';
    const forced = await ChatModel.load(quick, {
      ep: 'wasm',
      adapter,
      wasmHeapBytes: SMALL_HEAP,
      tokenBudget: TOKENS,
      force: true,
      onPlan: (_p, s) => (summary = s),
      onWarning: (w) => warnings.push(w),
    });
    expect(summary).toMatch(
      /^plan: f32 on wasm: weights 7\.\d MB, KV cache [\d.]+ MB for 64 tokens, .*; does not fit$/,
    );
    expect(warnings.map((w) => w.code)).toEqual(['forced-load']);
    expect(warnings[0]!.message).toContain(forced.lm.plan.plan.advice!);
    const r = await forced.ask('Tom has 47 coins. How many?', { maxNewTokens: 4 });
    expect(r.timings.newTokens).toBeGreaterThan(0);
    await forced.lm.release();
  });
});

describe('the plan on WebGPU uses the adapter limits', () => {
  /** A GPU whose adapter reports `limits` (or none); ORT is never reached in these tests. */
  const fakeGpu = (limits?: Record<string, number>): RuntimeAdapter => ({
    gpu: async () =>
      ({
        requestAdapter: async () => ({ info: { vendor: 'test', description: 'fake adapter' }, limits }),
      }) as unknown as GPU,
    loadOrt: () => Promise.reject(new Error('ORT must not be loaded')),
  });

  it("refuses a tensor over the adapter's storage-binding limit, naming it and a format that fits", async () => {
    const quick = new FsModelFolder(QUICK);
    let summary = '';
    const limits = { maxBufferSize: 300_000, maxStorageBufferBindingSize: 300_000 };
    const err = await ChatModel.load(quick, {
      ep: 'webgpu',
      adapter: fakeGpu(limits),
      tokenBudget: TOKENS,
      onPlan: (_p, s) => (summary = s),
    }).catch((e: unknown) => e);
    await quick.close();
    expect(err).toMatchObject({ code: 'does-not-fit' });
    expect((err as Error).message).toMatch(
      /weight takes .* in f32, over the adapter's .* storage-binding limit; f16 fits/,
    );
    expect(summary).toMatch(/^plan: f32 on webgpu: .*; does not fit \(device memory is not reported by WebGPU/);
  });

  it('without the adapter limits, the binding checks are skipped with a note', async () => {
    const quick = new FsModelFolder(QUICK);
    let summary = '';
    const err = await ChatModel.load(quick, {
      ep: 'webgpu',
      adapter: fakeGpu(),
      onPlan: (_p, s) => (summary = s),
    }).catch((e: unknown) => e);
    await quick.close();
    expect((err as Error).message).toMatch(/ORT must not be loaded/);
    expect(summary).toMatch(/; fits \(the adapter's limits are unknown, so the binding checks are skipped/);
  });
});

describe('a budget past max_position_embeddings', () => {
  it('warns exactly once and generates past the old limit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-pos-'));
    cpSync(QUICK, dir, { recursive: true });
    const configPath = path.join(dir, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(configPath, JSON.stringify({ ...config, max_position_embeddings: 32 }));

    const warnings: LabWarning[] = [];
    const folder = new FsModelFolder(dir);
    const model = await ChatModel.load(folder, { ep: 'wasm', adapter, onWarning: (w) => warnings.push(w) });
    expect(model.lm.spec.maxPositions).toBe(32);
    const prompt = [5, 17, 42, 9, 100, 3, 77, 8, 250, 31];
    const r = await generate(model.lm, prompt, { maxNewTokens: 40, onWarning: (w) => warnings.push(w) });
    await model.release();

    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'budget-over-max-positions', field: 'max_position_embeddings' });
    expect(warnings[0]!.message).toMatch(/token budget of 50 exceeds the model's max_position_embeddings of 32/);
    expect(r.finishReason).toBe('max-new-tokens');
    expect(prompt.length + r.ids.length).toBe(50);
  });
});
