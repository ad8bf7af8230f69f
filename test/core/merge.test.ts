/** Whole merges of tiny generated checkpoints, checked against an independent f64 computation. */
import { describe, expect, it } from 'vitest';
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { AbortError, MergeError } from '../../src/core/errors';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { type TinyModelOptions, tinyCheckpoint, tinyModelFiles, tinyTensorShapes } from '../helpers/checkpoints';
import { readOutputTensor, runMerge, valuesCheckpoint } from '../helpers/merge-harness';
import { interceptShardReads } from '../helpers/shard-reads';

const TA = `merge_method: task_arithmetic
base_model: quick
models: [{model: slow, parameters: {weight: 0.7}}]`;
const TIES = `merge_method: ties
base_model: quick
models: [{model: slow, parameters: {weight: 1.0, density: 0.2}}]
parameters: {lambda: 1.0}`;

async function values(c: Checkpoint, name: string): Promise<Float32Array> {
  const t = c.tensor(name)!;
  return decodeToF32(await t.file.readRange(name), t.dtype);
}

/**
 * Equal to the f64 expectation rounded to the storage dtype, up to one ulp of the dtype, plus
 * f32 rounding-order error relative to the tensor's scale (1e-6 of its max |value|).
 */
function expectClose(actual: Float32Array, expected: number[], dtype: DType) {
  const rounded = decodeToF32(encodeFromF32(Float32Array.from(expected), dtype), dtype);
  const ulp = dtype === 'F32' ? 2 ** -23 : dtype === 'F16' ? 2 ** -10 : 2 ** -7;
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const tol = Math.abs(expected[i]!) * ulp * 1.01 + 1e-6 * scale;
    expect(Math.abs(actual[i]! - rounded[i]!)).toBeLessThanOrEqual(tol);
  }
}

/**
 * Independent TIES (one task vector) from a full sort: keep |δ| ≥ the k-th largest |δ|
 * (elements tied at the threshold are all kept: Merge Lab's documented tie rule).
 */
function tiesReference(base: Float32Array, model: Float32Array, density: number, lambda: number): number[] {
  const d = [...model].map((v, i) => Math.fround(v - base[i]!));
  // mergekit keeps exactly int(density · n): a stable argsort of |δ| descending, ties lowest index first.
  const k = Math.floor(density * d.length);
  const order = d.map((_, i) => i).sort((i, j) => Math.abs(d[j]!) - Math.abs(d[i]!) || i - j);
  const kept = new Set(order.slice(0, k));
  return d.map((v, i) => base[i]! + lambda * (kept.has(i) ? v : 0));
}

describe.each(['F32', 'F16', 'BF16'] as const)('paper recipes on tiny checkpoints (%s)', (dtype) => {
  const quickOpts: TinyModelOptions = { seed: 1, dtype, shards: 3 };
  const slowOpts: TinyModelOptions = { seed: 2, dtype, like: { seed: 1, scale: 0.05 } };

  it('TA α=0.7 equals 0.3·θ_S1 + 0.7·θ_S2 for every tensor; multi-shard input', async () => {
    const quick = await tinyCheckpoint('quick', quickOpts);
    const slow = await tinyCheckpoint('slow', slowOpts);
    const r = await runMerge(TA, [quick, slow]);
    expect(r.summary.tensors).toBe(quick.tensors.size);
    for (const [name] of tinyTensorShapes(quickOpts)) {
      const a = await values(quick, name);
      const b = await values(slow, name);
      expectClose(
        await r.tensor(name),
        [...a].map((x, i) => x + 0.7 * (b[i]! - x)),
        dtype,
      );
      expect((await readOutputTensor(r.out, name)).dtype).toBe(dtype);
    }
  });

  it('TIES (k=0.8 trimmed, λ=1) matches an argsort reference', async () => {
    const quick = await tinyCheckpoint('quick', quickOpts);
    const slow = await tinyCheckpoint('slow', slowOpts);
    const r = await runMerge(TIES, [quick, slow], { chunkElements: 5 });
    for (const [name] of tinyTensorShapes(quickOpts)) {
      const a = await values(quick, name);
      expectClose(await r.tensor(name), tiesReference(a, await values(slow, name), 0.2, 1), dtype);
    }
  });
});

describe('streaming', () => {
  it('chunked and whole-tensor merges give identical bytes for every method', async () => {
    const a = await tinyCheckpoint('a', { seed: 1 });
    const b = await tinyCheckpoint('b', { seed: 2, like: { seed: 1, scale: 0.1 } });
    const c = await tinyCheckpoint('c', { seed: 3, like: { seed: 1, scale: 0.1 } });
    const recipes = [
      TIES.replaceAll('quick', 'a').replaceAll('slow', 'b'),
      `merge_method: dare_ties\nbase_model: a\nmodels: [{model: b, parameters: {weight: 0.6, density: 0.5}}, {model: c, parameters: {weight: 0.4, density: 0.7}}]\nrandom_seed: 3`,
      `merge_method: breadcrumbs_ties\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1, density: 0.5, gamma: 0.05}}, {model: c, parameters: {weight: 1, density: 0.5}}]`,
      `merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: c, parameters: {weight: 2}}]\ndtype: bfloat16`,
    ];
    for (const recipe of recipes) {
      const whole = await runMerge(recipe, [a, b, c]);
      const chunked = await runMerge(recipe, [a, b, c], { chunkElements: 7 });
      for (const name of a.tensors.keys())
        expect(
          Buffer.from(await chunked.raw(name)).equals(Buffer.from(await whole.raw(name))),
          `${recipe.split('\n')[0]} ${name}`,
        ).toBe(true);
    }
  });

  it('SLERP agrees chunked and whole to 1e-6 of the tensor scale (its norms are summed in a different order)', async () => {
    const a = await tinyCheckpoint('a', { seed: 1 });
    const b = await tinyCheckpoint('b', { seed: 2 });
    const recipe = `merge_method: slerp\nbase_model: a\nmodels: [{model: b}]\nparameters: {t: [0.1, 0.9]}`;
    const whole = await runMerge(recipe, [a, b]);
    const chunked = await runMerge(recipe, [a, b], { chunkElements: 7 });
    for (const name of a.tensors.keys()) {
      const x = await whole.tensor(name);
      const y = await chunked.tensor(name);
      const scale = Math.max(...[...x].map(Math.abs));
      x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(1e-6 * scale));
    }
  });

  it('reads tensors in bounded chunks, never whole files', async () => {
    const files = tinyModelFiles({ seed: 1, hidden: 16, intermediate: 32, vocab: 64 });
    let maxRead = 0;
    const counting = (name: string, m: Map<string, Uint8Array>) =>
      interceptShardReads(
        new MapModelFolder(name, m),
        (src, o, l) => ((maxRead = Math.max(maxRead, l)), src.read(o, l)),
      );
    const a = await Checkpoint.open(counting('quick', files));
    const b = await Checkpoint.open(
      counting('slow', tinyModelFiles({ seed: 2, hidden: 16, intermediate: 32, vocab: 64 })),
    );
    maxRead = 0;
    await runMerge(TIES, [a, b], { chunkElements: 64 });
    expect(maxRead).toBeLessThanOrEqual(64 * 4);
  });
});

describe('real-world checkpoints', () => {
  it("materialises a tied model's lm_head from embed_tokens", async () => {
    const quick = await tinyCheckpoint('quick', { seed: 1, tied: true });
    const slow = await tinyCheckpoint('slow', { seed: 2, like: { seed: 1, scale: 0.1 } });
    const r = await runMerge(TA, [quick, slow]);
    const embed = await values(quick, 'model.embed_tokens.weight');
    const head = await values(slow, 'lm_head.weight');
    expectClose(
      await r.tensor('lm_head.weight'),
      [...embed].map((x, i) => x + 0.7 * (head[i]! - x)),
      'F32',
    );
    expect(r.summary.warnings.map((w) => w.message).join()).toMatch(
      /quick: tied embeddings; lm_head.weight materialised/,
    );
    expect(r.summary.warnings.find((w) => w.code === 'lm-head-materialised')?.tensor).toBe('lm_head.weight');
    const config = JSON.parse(new TextDecoder().decode(r.out.files.get('config.json')));
    expect(config.tie_word_embeddings).toBe(false);
  });

  it('names the tensor and both shapes on a shape mismatch', async () => {
    const a = await valuesCheckpoint('quick', { x: { shape: [2, 2], values: [1, 2, 3, 4] } });
    const b = await valuesCheckpoint('slow', { x: { shape: [4, 1], values: [1, 2, 3, 4] } });
    const err = await runMerge(TA, [a, b]).catch((e) => e);
    expect(err).toBeInstanceOf(MergeError);
    expect(err.code).toBe('shape-mismatch');
    expect(err.message).toMatch(/'x'.*\[2, 2\].*quick.*\[4, 1\].*slow/);
  });

  it('names a tensor missing from one model', async () => {
    const a = await tinyCheckpoint('quick', { seed: 1 });
    const b = await tinyCheckpoint('slow', { seed: 2, drop: ['model.layers.1.mlp.up_proj.weight'] });
    const err = await runMerge(TA, [a, b]).catch((e) => e);
    expect(err.code).toBe('missing-tensor');
    expect(err.message).toMatch(/model\.layers\.1\.mlp\.up_proj\.weight.*slow/);
  });

  it('rejects a vocabulary mismatch unless vocab_policy: base keeps the base rows', async () => {
    const a = await valuesCheckpoint('quick', {
      'model.embed_tokens.weight': { shape: [3, 2], values: [1, 1, 2, 2, 3, 3] },
    });
    const b = await valuesCheckpoint('slow', {
      'model.embed_tokens.weight': { shape: [2, 2], values: [11, 11, 12, 12] },
    });
    const err = await runMerge(TA, [a, b]).catch((e) => e);
    expect(err.code).toBe('vocab-mismatch');
    expect(err.message).toMatch(/3 rows.*2/);
    const r = await runMerge(`${TA}\nvocab_policy: base`, [a, b]);
    // rows the slow model lacks keep the base's values (zero task vector)
    expect([...(await r.tensor('model.embed_tokens.weight'))].map((v) => +v.toFixed(5))).toEqual([8, 8, 9, 9, 3, 3]);
  });
});

describe('cancel and failure', () => {
  it('a cancelled merge leaves nothing that looks complete', async () => {
    const a = await tinyCheckpoint('quick', { seed: 1 });
    const b = await tinyCheckpoint('slow', { seed: 2 });
    const out = new MemoryOutputFolder();
    const ac = new AbortController();
    let calls = 0;
    const p = merge(
      parseRecipe(TIES).recipe,
      new Map([
        ['quick', a],
        ['slow', b],
      ]),
      new CpuBackend(),
      out,
      {
        signal: ac.signal,
        onProgress: () => {
          if (++calls === 3) ac.abort();
        },
      },
    );
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.message).toBe('merge cancelled');
    expect(await out.list()).toEqual([]);
  });

  it('a read failure midway removes the partial output', async () => {
    let reads = 0;
    const flaky = interceptShardReads(new MapModelFolder('slow', tinyModelFiles({ seed: 2 })), (src, o, l) =>
      ++reads > 10 ? Promise.reject(new Error('disk gone')) : src.read(o, l),
    );
    const a = await tinyCheckpoint('quick', { seed: 1 });
    const b = await Checkpoint.open(flaky);
    const out = new MemoryOutputFolder();
    await expect(
      merge(
        parseRecipe(TA).recipe,
        new Map([
          ['quick', a],
          ['slow', b],
        ]),
        new CpuBackend(),
        out,
      ),
    ).rejects.toThrow(/disk gone/);
    expect(await out.list()).toEqual([]);
  });
});

describe('output', () => {
  it('writes shards with an index, records the recipe, and copies config and tokenizer files', async () => {
    const a = await tinyCheckpoint('quick', { seed: 1 });
    const b = await tinyCheckpoint('slow', { seed: 2 });
    const r = await runMerge(`${TA}\ndtype: float16\ntokenizer_source: slow`, [a, b], { shardBytes: 300 });
    const files = await r.out.list();
    expect([...r.summary.files].sort()).toEqual([...files].sort());
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    const index = JSON.parse(new TextDecoder().decode(r.out.files.get('model.safetensors.index.json')));
    expect(Object.keys(index.weight_map).sort()).toEqual([...a.tensors.keys()].sort());
    const reopened = await Checkpoint.open(new MapModelFolder('merged', r.out.files));
    expect(reopened.tensors.size).toBe(a.tensors.size);
    expect(reopened.shards[0]!.metadata.merge_recipe).toMatch(/merge_method: task_arithmetic/);
    expect(reopened.config!.torchDtype).toBe('float16');
    expect(JSON.parse(new TextDecoder().decode(r.out.files.get('tokenizer_config.json'))).seed).toBe(2);
  });
});

describe('typed errors during a merge', () => {
  it('a shard cut short after its header was read fails with SafetensorsError naming the file and tensor, and writes nothing', async () => {
    let cut = false;
    // The header is valid; the data then turns out shorter (a file truncated while merging).
    const shrinking = interceptShardReads(new MapModelFolder('slow', tinyModelFiles({ seed: 2 })), (src, o, l) =>
      cut && o > 1000 ? src.read(o, 0) : src.read(o, l),
    );
    const b = await Checkpoint.open(shrinking);
    cut = true;
    const out = new MemoryOutputFolder();
    const err = await merge(
      parseRecipe(TA).recipe,
      new Map([
        ['quick', await tinyCheckpoint('quick', { seed: 1 })],
        ['slow', b],
      ]),
      new CpuBackend(),
      out,
    ).catch((e) => e);
    expect(err.name).toBe('SafetensorsError');
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(/model\.safetensors \[model\./);
    expect(await out.list()).toEqual([]);
  });
});
