/**
 * The WGSL 4-bit packer (shaders/q4-pack.wgsl via src/gpu/quantize.ts) against its CPU spec packQ4,
 * on a real adapter: packed bytes and scale bits identical for block sizes 32/64/128 on random
 * weights, blocks of exact ties, all-zero blocks, repeated extremes of either sign, subnormals and
 * specials; every f16 and bf16 bit pattern decoded in the shader; weights split into binding
 * windows on a folded grid (TIGHT limits) and into upload chunks; one with more than 65,535 blocks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type DType, decodeToF32 } from '../../src/core/dtype';
import { Q4_BLOCK_SIZES, type Q4BlockSize, type Q4Packed, packQ4 } from '../../src/core/kernels/q4-pack';
import { seededRandom } from '../../src/core/random';
import type { WebGpuBackend } from '../../src/gpu/backend';
import { GpuError } from '../../src/gpu/device';
import { Q4_SPAN } from '../../src/gpu/kernels';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

const bytesOf = (x: Float32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/** Packed bytes and scale bits identical; the first difference in the message. */
function expectIdentical(got: Q4Packed, want: Q4Packed) {
  const diff = (a: Uint8Array, b: Uint8Array) => {
    if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
    const i = a.findIndex((x, j) => x !== b[j]);
    return i < 0 ? '' : `byte ${i}: ${a[i]} vs ${b[i]}`;
  };
  expect(diff(got.packed, want.packed), 'packed').toBe('');
  expect(diff(bytesOf(got.scales), bytesOf(want.scales)), 'scales').toBe('');
}

const random = seededRandom(1616);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

/** Rows of very different magnitudes, as in real checkpoints (and some far out of range). */
function randomWeight(n: number, k: number): Float32Array {
  const w = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    const scale = 10 ** (random() * 12 - 8);
    for (let i = 0; i < k; i++) w[r * k + i] = gaussian() * scale;
  }
  return w;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number) => ((u32[0] = b), f32[0]!);

/** Blocks built to be hard: exact ties, repeated extremes of both signs, zeros, subnormals, specials. */
function hardWeight(blockSize: number, blocks: number): Float32Array {
  const w = new Float32Array(blocks * blockSize);
  for (let b = 0; b < blocks; b++) {
    const block = w.subarray(b * blockSize, (b + 1) * blockSize);
    // an extreme whose tie partners (k + ½)·|m|/8 are all representable
    const m = fromBits(((random() * 2 ** 32) & 0xfffffff0) >>> 0 || 0x3f800000) || 1;
    const mag = Number.isFinite(m) ? m : -3;
    switch (b % 8) {
      case 0: // all zero, of both signs
        block.forEach((_, i) => (block[i] = i % 2 ? -0 : 0));
        break;
      case 1: // every element a tie: −8w/m = k + ½, either sign
      case 2:
        block.forEach((_, i) => (block[i] = (((i % 2 ? 1 : -1) * (2 * (i % 8) + 1)) / 16) * mag));
        block[(b * 7) % blockSize] = mag;
        break;
      case 3: // the extreme repeated, with its opposite before it: the first wins
        block.forEach((_, i) => (block[i] = i % 3 === 0 ? mag : i % 3 === 1 ? -mag : mag * random()));
        break;
      case 4: // subnormal block (its extreme too), and subnormal elements under a normal extreme
        block.forEach((_, i) => (block[i] = fromBits(Math.floor(random() * 0x7fffff)) * (i % 2 ? -1 : 1)));
        if (b % 16 === 12) block[5] = 1e-30;
        break;
      case 5: // tiny elements far below the extreme (|r| < 2^−7 for most)
        block.forEach((_, i) => (block[i] = mag * 2 ** -(10 + (i % 40)) * (i % 2 ? 1 : -1)));
        block[3] = mag;
        break;
      case 6: // specials: NaN, ±∞
        block.forEach((_, i) => (block[i] = gaussian()));
        block[1] = NaN;
        if (b % 16 === 6) block[blockSize - 1] = -Infinity;
        break;
      default: // largest finite and -0 mixed
        block.forEach((_, i) => (block[i] = i === 2 ? -3.4028234663852886e38 : gaussian() * 1e37));
    }
  }
  return w;
}

describe('WGSL 4-bit packer = packQ4, byte for byte', () => {
  const backends = useGpuPair();

  /** Packs `w` on `be` as an f32 GPU tensor and as f32 bytes; both must equal packQ4. */
  async function check(be: WebGpuBackend, w: Float32Array, n: number, k: number, blockSize: Q4BlockSize) {
    const want = packQ4(w, n, k, blockSize);
    const t = await be.load(bytesOf(w), 'F32');
    try {
      expectIdentical(await be.packQ4(t, n, k, blockSize), want);
    } finally {
      be.release(t);
    }
    expectIdentical(await be.packQ4({ bytes: bytesOf(w), dtype: 'F32' }, n, k, blockSize), want);
  }

  it('the shader covers Q4_SPAN elements per workgroup', () => {
    const src = readFileSync(new URL('../../shaders/q4-pack.wgsl', import.meta.url), 'utf8');
    expect(Number(/const SPAN: u32 = (\d+)u;/.exec(src)?.[1])).toBe(Q4_SPAN);
  });

  it.each(Q4_BLOCK_SIZES)('random weights, block size %i (GPU tensor and raw bytes)', async (blockSize) => {
    for (const [n, k] of [
      [1, blockSize],
      [7, 384],
      [64, 1024],
    ] as const)
      await check(backends.gpu, randomWeight(n, k), n, k, blockSize);
  });

  it.each(Q4_BLOCK_SIZES)(
    'hard blocks, block size %i: ties, repeated extremes, zeros, subnormals, NaN/∞',
    async (blockSize) => {
      const blocks = 512;
      const k = blockSize * 4;
      const w = hardWeight(blockSize, blocks);
      const want = packQ4(w, blocks / 4, k, blockSize);
      // the cases are what they claim: all-zero blocks, and many elements with −8w/m exactly k + ½
      expect(want.scales.filter((s) => Object.is(s, 0)).length).toBe(blocks / 8);
      const ties = w.filter((x, i) => {
        const r = x / want.scales[Math.floor(i / blockSize)]!;
        return Number.isFinite(r) && Math.abs(r % 1) === 0.5;
      }).length;
      expect(ties).toBeGreaterThan((blocks / 8) * blockSize);
      await check(backends.gpu, w, blocks / 4, k, blockSize);
    },
  );

  it('f16 and bf16 bytes, decoded in the shader: every 16-bit pattern, in order and shuffled', async () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const shuffled = all.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    for (const dtype of ['F16', 'BF16'] as DType[])
      for (const values of [all, shuffled])
        for (const blockSize of Q4_BLOCK_SIZES) {
          const bytes = new Uint8Array(values.buffer);
          const [n, k] = [256, 256];
          const want = packQ4(decodeToF32(bytes, dtype), n, k, blockSize);
          expectIdentical(await backends.gpu.packQ4({ bytes, dtype }, n, k, blockSize), want);
        }
  });

  it('a weight over several binding windows on a folded grid, and over several upload chunks', async () => {
    const [n, k] = [80, 4096]; // 327,680 elements: 3 windows of the TIGHT binding limit, 2-D grids
    const w = randomWeight(n, k);
    const dispatches = () => backends.tight.stats().dispatches;
    let before = dispatches();
    for (const blockSize of Q4_BLOCK_SIZES) await check(backends.tight, w, n, k, blockSize);
    expect(dispatches() - before).toBe(3 * (3 + 3)); // 3 windows of the tensor, 3 chunks of 32 rows of its bytes
    const bf16 = new Uint8Array(n * k * 2).map((_, i) => (i % 2 ? 0x3c + (i % 7) : (i * 37) & 255));
    const want = packQ4(decodeToF32(bf16, 'BF16'), n, k, 32);
    before = dispatches();
    expectIdentical(
      await backends.tight.packQ4({ bytes: bf16, dtype: 'BF16' }, n, k, 32, { maxChunkBytes: 70_000 }),
      want,
    );
    expect(dispatches() - before).toBe(10); // chunks of 8 rows
  });

  it('a weight of more than 65,535 blocks', async () => {
    const [n, k] = [520, 4096]; // 66,560 blocks of 32
    await check(backends.gpu, randomWeight(n, k), n, k, 32);
  });

  it('refuses a shape it cannot pack, naming the tensor, before any GPU work', async () => {
    const w = new Float32Array(96);
    const bytes = { bytes: bytesOf(w), dtype: 'F32' as const };
    const err = await backends.gpu
      .packQ4(bytes, 1, 96, 64, { tensor: 'model.layers.0.mlp.up_proj.weight' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(GpuError);
    expect(err.tensor).toBe('model.layers.0.mlp.up_proj.weight');
    expect(err.message).toMatch(/K = 96 is not a multiple of the 4-bit block size 64/);
    await expect(backends.gpu.packQ4(bytes, 2, 64, 32)).rejects.toThrow(/96 values for a \[2, 64\] weight/);
    await expect(backends.gpu.packQ4(bytes, 1, 96, 48 as Q4BlockSize)).rejects.toThrow(/block size 48/);
    const empty = await backends.gpu.packQ4({ bytes: new Uint8Array(0), dtype: 'BF16' }, 0, 4096, 128);
    expect([empty.packed.length, empty.scales.length]).toEqual([0, 0]);
    const aborted = AbortSignal.abort();
    await expect(backends.gpu.packQ4(bytes, 3, 32, 32, { signal: aborted })).rejects.toThrow(/quantize cancelled/);
  });
});
