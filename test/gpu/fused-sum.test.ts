/**
 * The WebGPU backend's packed 16-bit path (src/gpu/gpu-tensor.ts, fused.ts, shaders/weighted-sum16.wgsl)
 * against the plain-TS reference backend (src/core/merge/cpu-backend.ts), byte for byte: f16/bf16
 * chunks loaded as raw words, a weighted sum of 1–4 of them computed in one kernel and narrowed to
 * 16 bits in the same kernel by `store` (or kept in f32 for any other use), and the task vector
 * (DELTA) of two packed tensors by the same kernel. Inputs cover every 16-bit
 * pattern (NaN payloads, ±Inf, subnormals, ±0), random words, odd lengths, windowed bindings on a
 * folded grid; weights produce round-to-nearest-even ties, overflow and subnormal results. Also: the
 * inputs' buffers stay intact while a pending sum reads them after their release or decode. Sums
 * that mix packed and f32 inputs (TIES's θ₀ + λ·merged) go through the same kernel, f32 bits as they are.
 */
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype';
import { DELTA } from '../../src/core/kernels/delta';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import type { WebGpuBackend } from '../../src/gpu/backend';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

type D16 = 'F16' | 'BF16';
const cpu = new CpuBackend();

/** n 16-bit words: every pattern in turn from `start`, then pseudo-random ones. */
function words(n: number, start: number, seed: number): Uint8Array {
  const w = new Uint16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    w[i] = i < 65536 ? (start + i * 7919) & 0xffff : s >>> 16;
  }
  return new Uint8Array(w.buffer);
}

/** Words of values near 1, 2^-14, 65504 and 0: sums of these land on RNE ties, subnormals and overflow. */
function edgeWords(n: number, dtype: D16, seed: number): Uint8Array {
  const bases = dtype === 'F16' ? [0x3c00, 0x0400, 0x7bff, 0x0001, 0x8000, 0x3555] : [0x3f80, 0x0080, 0x7f7f, 0x0001];
  const w = new Uint16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 22695477) + 1) >>> 0;
    w[i] = (bases[s % bases.length]! + ((s >>> 8) % 5) - 2) & 0xffff;
  }
  return new Uint8Array(w.buffer);
}

async function reference(inputs: Uint8Array[], dtypes: DType[], ws: number[], out: DType): Promise<Uint8Array> {
  const xs = await Promise.all(inputs.map((b, i) => cpu.load(b, dtypes[i]!)));
  return cpu.store(await cpu.weightedSum(xs, ws), out);
}

async function fused(be: WebGpuBackend, inputs: Uint8Array[], dtypes: DType[], ws: number[], out: DType) {
  const xs = await Promise.all(inputs.map((b, i) => be.load(b, dtypes[i]!)));
  const sum = await be.weightedSum(xs, ws);
  const bytes = await be.store(sum, out);
  for (const x of [...xs, sum]) be.release(x);
  return bytes;
}

/** The same sum on the f32 path: inputs decoded on the CPU, loaded as f32, summed and narrowed by two kernels. */
async function unfused(be: WebGpuBackend, inputs: Uint8Array[], dtypes: D16[], ws: number[], out: DType) {
  const f32 = await Promise.all(inputs.map(async (b, i) => cpu.store(await cpu.load(b, dtypes[i]!), 'F32')));
  const xs = await Promise.all(f32.map((b) => be.load(b, 'F32')));
  const sum = await be.weightedSum(xs, ws);
  const bytes = await be.store(sum, out);
  for (const x of [...xs, sum]) be.release(x);
  return bytes;
}

/** Whether 16-bit word / f32 bits `v` of `dtype` is a NaN. */
function isNaNBits(v: number, dtype: DType): boolean {
  if (dtype === 'F32') return (v & 0x7f800000) === 0x7f800000 && (v & 0x7fffff) !== 0;
  if (dtype === 'F16') return (v & 0x7c00) === 0x7c00 && (v & 0x3ff) !== 0;
  return (v & 0x7f80) === 0x7f80 && (v & 0x7f) !== 0;
}

/**
 * The first indices where the results differ, except where both are NaN: which NaN an operation
 * returns when two meet (or when it makes one: 0 · Inf, Inf − Inf) IEEE 754 leaves to the
 * implementation, and V8 and the shader compiler choose differently (sign, payload). Every other
 * element, NaN inputs passed through included, must have the same bits.
 */
function mismatches(got: Uint8Array, want: Uint8Array, dtype: DType): number[] {
  if (got.length !== want.length) return [-1];
  const view = (b: Uint8Array) =>
    dtype === 'F32' ? new Uint32Array(b.slice().buffer) : new Uint16Array(b.slice().buffer);
  const [g, w] = [view(got), view(want)];
  const out: number[] = [];
  for (let i = 0; i < w.length && out.length < 5; i++)
    if (g[i] !== w[i] && !(isNaNBits(g[i]!, dtype) && isNaNBits(w[i]!, dtype))) out.push(i);
  return out;
}

const same = (got: Uint8Array, want: Uint8Array) => Buffer.from(got).equals(Buffer.from(want));

const WEIGHT_SETS = [[1], [-0.5], [0.5, 0.5], [1, -1], [1 / 3, 1 / 3, 1 / 3], [0, 1.5, -0.25], [0.1, 0.2, 0.3, 0.4]];

describe('fused 16-bit weighted sum = plain-TS reference, byte for byte', () => {
  const backends = useGpuPair();

  it('f16 and bf16, 1–4 inputs, every bit pattern, odd lengths, stored as f16, bf16 and f32', async () => {
    for (const dtype of ['F16', 'BF16'] as const)
      for (const ws of WEIGHT_SETS)
        for (const n of [0, 1, 2, 3, 5, 65_537]) {
          const inputs = ws.map((_, t) => words(n, t * 12_345, t + 1));
          const dtypes = ws.map(() => dtype);
          for (const out of ['F16', 'BF16', 'F32'] as const) {
            const label = `${dtype} → ${out}, w=${ws.join(',')}, n=${n}`;
            const want = await reference(inputs, dtypes, ws, out);
            expect(mismatches(await fused(backends.gpu, inputs, dtypes, ws, out), want, out), label).toEqual([]);
          }
        }
  });

  it('sums that round on ties, overflow to Inf and fall to subnormals; mixed f16/bf16 inputs', async () => {
    const n = 50_001;
    for (const dtype of ['F16', 'BF16'] as const)
      for (const ws of [...WEIGHT_SETS, [0.5, 0.25, 0.125], [1, 2 ** -11, -(2 ** -12)], [2 ** -20, 2 ** 20]]) {
        const inputs = ws.map((_, t) => edgeWords(n, dtype, t + 7));
        const want = await reference(
          inputs,
          ws.map(() => dtype),
          ws,
          dtype,
        );
        const got = await fused(
          backends.gpu,
          inputs,
          ws.map(() => dtype),
          ws,
          dtype,
        );
        const f32Path = await unfused(
          backends.gpu,
          inputs,
          ws.map(() => dtype),
          ws,
          dtype,
        );
        expect(mismatches(got, f32Path, dtype), 'fused = f32 path').toEqual([]);
        expect(mismatches(got, want, dtype), `${dtype} w=${ws.join(',')}`).toEqual([]);
      }
    const mixed: D16[] = ['BF16', 'F16', 'BF16', 'F16'];
    const inputs = mixed.map((d, t) => edgeWords(n, d, t + 3));
    for (const out of ['F16', 'BF16'] as const) {
      const want = await reference(inputs, mixed, [0.4, 0.3, 0.2, 0.1], out);
      const got = await fused(backends.gpu, inputs, mixed, [0.4, 0.3, 0.2, 0.1], out);
      expect(mismatches(got, want, out), out).toEqual([]);
    }
  });

  it('delta of two packed tensors (model − base as 1·model + (−1)·base) = the reference delta', async () => {
    for (const [model, base] of [
      ['F16', 'F16'],
      ['BF16', 'BF16'],
      ['F16', 'BF16'],
    ] as const)
      for (const n of [1, 3, 65_537]) {
        const [m, b] = [words(n, 17, 5), words(n, 40_000, 6)];
        const want = await cpu.store(
          await cpu.elementwise(DELTA, [await cpu.load(m, model), await cpu.load(b, base)], {}),
          'F32',
        );
        for (const be of [backends.gpu, backends.tight]) {
          const [gm, gb] = [await be.load(m, model), await be.load(b, base)];
          const d = await be.elementwise(DELTA, [gm, gb], {});
          expect(mismatches(await be.store(d, 'F32'), want, 'F32'), `${model} − ${base}, n=${n}`).toEqual([]);
          expect(same(await be.store(gm, model), m), 'the model stays packed').toBe(true);
          for (const x of [gm, gb, d]) be.release(x);
        }
      }
  });

  it('windowed bindings on a folded 2-D grid (tight limits)', async () => {
    const n = 300_001;
    for (const dtype of ['F16', 'BF16'] as const) {
      const inputs = [0, 1, 2].map((t) => words(n, t * 999, t + 11));
      const ws = [0.25, 0.5, 0.25];
      for (const out of [dtype, 'F32'] as const) {
        const want = await reference(inputs, [dtype, dtype, dtype], ws, out);
        const got = await fused(backends.tight, inputs, [dtype, dtype, dtype], ws, out);
        expect(mismatches(got, want, out), `${dtype} → ${out}`).toEqual([]);
      }
    }
  });

  it('a pending sum reads its inputs intact after they are released, decoded or stored', async () => {
    const be = backends.gpu;
    const n = 70_001;
    const inputs = [0, 1, 2].map((t) => words(n, t * 4321, t + 21));
    const ws = [-1, 1.5, 0.5];
    const dtypes: D16[] = ['BF16', 'BF16', 'BF16'];
    const want = await reference(inputs, dtypes, ws, 'BF16');
    const xs = await Promise.all(inputs.map((b) => be.load(b, 'BF16')));
    const sum = await be.weightedSum(xs, ws);
    const early = await be.weightedSum(xs, ws);
    // Decoded input 1, stored input 0 as it is, released all three: their words must stay until the sums go.
    const d = await be.elementwise(DELTA, [xs[1]!, xs[2]!], {});
    expect(same(await be.store(xs[0]!, 'BF16'), inputs[0]!)).toBe(true);
    for (const x of xs) be.release(x);
    be.release(early);
    // Reuse the pool's buffers: the inputs' must not be among them.
    const other = await Promise.all([0, 1, 2].map((t) => be.load(words(n, t, 99 + t), 'BF16')));
    const overwritten = await be.weightedSum(other, [1, 1, 1]);
    expect(same(await be.store(sum, 'BF16'), want)).toBe(true);
    expect(same(await be.store(sum, 'F32'), await reference(inputs, dtypes, ws, 'F32'))).toBe(true);
    expect(same(await be.store(sum, 'BF16'), want), 'stored again after its f32 use').toBe(true);
    const wantDelta = await cpu.store(
      await cpu.elementwise(DELTA, [await cpu.load(inputs[1]!, 'BF16'), await cpu.load(inputs[2]!, 'BF16')], {}),
      'F32',
    );
    expect(same(await be.store(d, 'F32'), wantDelta)).toBe(true);
    for (const x of [sum, d, overwritten, ...other]) be.release(x);
  });

  it('packed and f32 inputs mixed (TIES: θ₀ + λ·merged), every slot, windowed, f32 released before the store', async () => {
    /** n f32 values: random bits (NaN, Inf, subnormals among them), and every 4th one a small ordinary value. */
    const f32Bytes = (n: number, seed: number) => {
      const w = new Uint8Array(words(2 * n, seed * 977, seed).buffer);
      const f = new Float32Array(w.buffer);
      for (let i = 0; i < n; i += 4) f[i] = ((i % 97) - 48) / 1024;
      return w;
    };
    const cases: DType[][] = [
      ['BF16', 'F32'],
      ['F32', 'F16'],
      ['F16', 'F32', 'BF16'],
      ['F32', 'BF16', 'F32', 'F16'],
    ];
    for (const dtypes of cases)
      for (const n of [1, 3, 5, 300_001]) {
        const inputs = dtypes.map((d, t) => (d === 'F32' ? f32Bytes(n, t + 41) : edgeWords(n, d as D16, t + 51)));
        const ws = [1, 0.3, -0.7, 2 ** -12].slice(0, dtypes.length);
        for (const out of ['BF16', 'F16', 'F32'] as const) {
          const want = await reference(inputs, dtypes, ws, out);
          for (const be of [backends.gpu, backends.tight]) {
            const xs = await Promise.all(inputs.map((b, t) => be.load(b, dtypes[t]!)));
            const sum = await be.weightedSum(xs, ws);
            for (const x of xs) be.release(x); // as TIES releases `mixed` before emitting
            const label = `${dtypes.join('+')} → ${out}, n=${n}`;
            expect(mismatches(await be.store(sum, out), want, out), label).toEqual([]);
            be.release(sum);
          }
        }
      }
  });

  it('five or more inputs take the f32 path with the same bytes', async () => {
    const n = 10_001;
    const ws = [0.2, 0.2, 0.2, 0.2, 0.2];
    const inputs = ws.map((_, t) => edgeWords(n, 'F16', t + 31));
    const f16s = ws.map((): D16 => 'F16');
    const want = await reference(inputs, f16s, ws, 'F16');
    expect(same(await fused(backends.gpu, inputs, f16s, ws, 'F16'), want)).toBe(true);
    const be = backends.gpu;
    const xs = [
      await be.load(inputs[0]!, 'F16'),
      await be.load(await cpu.store(await cpu.load(inputs[1]!, 'F16'), 'F32'), 'F32'),
    ];
    const got = await be.store(await be.weightedSum(xs, [0.5, 0.5]), 'F16');
    expect(same(got, await reference(inputs.slice(0, 2), ['F16', 'F16'], [0.5, 0.5], 'F16'))).toBe(true);
    for (const x of xs) be.release(x);
  });
});
