/**
 * Weight formats on the wasm EP: the q4 graph (MatMulNBits) and the f16 graph give the logits of
 * the plain-TS reference forward pass over the weights they compute with (dequantized q4 blocks,
 * f16-rounded weights), on demo-quick and on generated checkpoints with head_dim 64 and 128; a
 * shape a format cannot use is refused, naming the tensor, before any session exists.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import type { Q4BlockSize } from '../../src/core/kernels/q4-pack';
import { calibrateIds } from '../../src/infer/calibrate';
import { InferError } from '../../src/infer/errors';
import { CausalLM, type LoadOptions } from '../../src/infer/model';
import type { RuntimeAdapter } from '../../src/infer/runtime';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { type TinyModelOptions, tinyModelFiles } from '../helpers/checkpoints';
import { maxAbsDiff, referenceLogits } from './reference';
import { HEAD128, HEAD64 } from './shapes';
import { computedWeights } from './weight-reference';

const adapter = nodeRuntimeAdapter();
const IDS = [3, 17, 5, 42, 9, 1];
const demo = new FsModelFolder('public/models/demo-quick');
afterAll(() => demo.close());

const tiny = (o: TinyModelOptions) => Checkpoint.open(new MapModelFolder(`tiny-${o.seed}`, tinyModelFiles(o)));

/** Max |Δlogit| against the reference over the weights the format computes with, and over the original ones. */
async function parity(ckpt: Checkpoint, opts: LoadOptions): Promise<{ computed: number; original: number }> {
  const lm = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, allLogits: true, ...opts });
  try {
    const { logits } = await lm.forward(IDS);
    const ref = await referenceLogits(await computedWeights(ckpt, opts.weights as 'f16' | 'q4', opts.blockSize), IDS);
    return { computed: maxAbsDiff(logits, ref), original: maxAbsDiff(logits, await referenceLogits(ckpt, IDS)) };
  } finally {
    await lm.release();
  }
}

describe('q4 weights (MatMulNBits) on wasm', () => {
  it.each([
    ['demo-quick', 32, () => Checkpoint.open(demo)],
    ['demo-quick', 64, () => Checkpoint.open(demo)],
    ['head_dim 64', 32, () => tiny(HEAD64)],
    ['head_dim 128, tied, bf16', 32, () => tiny(HEAD128)],
    ['head_dim 128, tied, bf16', 128, () => tiny(HEAD128)],
  ] as const)('%s, block %i: logits = reference over the dequantized weights', async (name, blockSize, open) => {
    const diff = await parity(await open(), { weights: 'q4', blockSize: blockSize as Q4BlockSize });
    console.log(
      `q4 ${name} block ${blockSize}: max |Δlogit| ${diff.computed.toExponential(2)} (vs f32 weights ${diff.original.toFixed(3)})`,
    );
    expect(diff.computed).toBeLessThan(1e-3);
    expect(diff.original).toBeGreaterThan(1e-2); // the weights really are 4-bit
  });

  it('weights split over several external-data files give the same logits', async () => {
    const ckpt = await tiny(HEAD64);
    const one = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, weights: 'q4' });
    const split = await CausalLM.fromCheckpoint(ckpt, {
      ep: 'wasm',
      adapter,
      weights: 'q4',
      externalFileBytes: 20_000,
    });
    const [a, b] = [(await one.forward(IDS)).logits, (await split.forward(IDS)).logits];
    await Promise.all([one.release(), split.release()]);
    const files = split.graph.derived!;
    expect(files.locations.length).toBeGreaterThan(4);
    expect(files.totalBytes).toBe(one.graph.derived!.totalBytes);
    expect(maxAbsDiff(a, b)).toBe(0);
  });

  it('projections past the dequantization limit run as row chunks (the tied head included), same logits', async () => {
    const ckpt = await tiny(HEAD128);
    const whole = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, weights: 'q4' });
    // 4 KiB of f32 per node: every projection and the tied lm_head split into several MatMulNBits.
    const chunked = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, weights: 'q4', q4ChunkBytes: 4096 });
    const [a, b] = [(await whole.forward(IDS)).logits, (await chunked.forward(IDS)).logits];
    await Promise.all([whole.release(), chunked.release()]);
    const count = (lm: CausalLM) => new TextDecoder('latin1').decode(lm.graph.model).match(/MatMulNBits/g)!.length;
    expect(count(chunked)).toBeGreaterThan(2 * count(whole));
    expect(new TextDecoder('latin1').decode(chunked.graph.model)).toMatch(/lm_head\.tied\.q4\.rows1/);
    // The chunks are views: the files hold the same bytes.
    expect(chunked.graph.derived!.totalBytes).toBe(whole.graph.derived!.totalBytes);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });

  it('the q4 graph uses MatMulNBits for every projection and mounts no shard', async () => {
    const lm = await CausalLM.fromCheckpoint(await tiny(HEAD64), { ep: 'wasm', adapter, weights: 'q4' });
    await lm.release();
    const text = new TextDecoder('latin1').decode(lm.graph.model);
    expect(text.match(/MatMulNBits/g)?.length).toBeGreaterThanOrEqual(2 * 7 + 1);
    expect(text).not.toMatch(/Gemm/);
    expect(lm.graph.locations).toEqual([]);
    expect(lm.graph.derived!.locations).toEqual(['merge-lab.weights.0.bin']);
  });
});

describe('f16 weights on wasm', () => {
  it.each([
    ['demo-quick', () => Checkpoint.open(demo)],
    ['head_dim 64', () => tiny(HEAD64)],
    ['head_dim 128, tied, bf16', () => tiny(HEAD128)],
  ] as const)('%s: logits = reference over the f16-rounded weights', async (_, open) => {
    const diff = await parity(await open(), { weights: 'f16' });
    console.log(
      `f16 ${_}: max |Δlogit| ${diff.computed.toExponential(2)} (vs f32 weights ${diff.original.toExponential(2)})`,
    );
    expect(diff.computed).toBeLessThan(1e-3);
  });
});

describe('calibration with q4 weights', () => {
  it("gives the reference's mean |activation| over the dequantized weights", async () => {
    const ckpt = await tiny(HEAD64);
    const stats = await calibrateIds(ckpt, [IDS], 'toy', { ep: 'wasm', adapter, weights: 'q4' });
    const sums = new Map<string, Float64Array>();
    await referenceLogits(await computedWeights(ckpt, 'q4'), IDS, (w, x) =>
      sums.set(
        w,
        x.map((v, j) => (sums.get(w)?.[j] ?? 0) + Math.abs(v)),
      ),
    );
    expect(Object.keys(stats.channels).sort()).toEqual([...sums.keys()].sort());
    let worst = 0;
    for (const [w, acc] of sums)
      worst = Math.max(
        worst,
        maxAbsDiff(
          stats.channels[w]!,
          acc.map((s) => s / IDS.length),
        ),
      );
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('a format the shapes cannot use', () => {
  it('K not divisible by the block size: an InferError naming the tensor, before any session', async () => {
    let ortLoads = 0;
    const spy: RuntimeAdapter = { ...adapter, loadOrt: (ep) => (ortLoads++, adapter.loadOrt!(ep)) };
    // demo-quick: hidden 192 is not a multiple of 128 (the q4 embedding is the first weight planned).
    const err = await CausalLM.fromCheckpoint(await Checkpoint.open(demo), {
      ep: 'wasm',
      adapter: spy,
      weights: 'q4',
      blockSize: 128,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferError);
    expect(err).toMatchObject({ code: 'weight-format', tensor: 'model.embed_tokens.weight' });
    expect((err as Error).message).toMatch(
      /embed_tokens\.weight.*192 is not a multiple of 128.*block size 32 would work/,
    );
    expect(ortLoads).toBe(0);
  });

  it('an unknown format or block size is a bad-options error', async () => {
    const ckpt = await tiny(HEAD64);
    for (const opts of [{ weights: 'q8' }, { weights: 'q4', blockSize: 16 }] as unknown as LoadOptions[])
      await expect(CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, ...opts })).rejects.toMatchObject({
        code: 'bad-options',
      });
  });
});
