/**
 * Every WGSL kernel against its CPU twin (src/core/kernels), on a real adapter.
 * f32 results: ≤ 1e-6 relative (most are bit-identical); dtype codecs, masks, histograms and
 * thresholds: exact. Sizes cover empty, 1 element, odd sizes that are not multiples of the
 * workgroup size, and (with TIGHT limits) tensors split into binding windows on a folded grid.
 */
import { describe, expect, it } from 'vitest';
import { decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { absHistogram } from '../../src/core/kernels/abs-histogram';
import { AIM_SCALE, aimScale } from '../../src/core/kernels/aim-scale';
import { DARE_MASK, dareMask } from '../../src/core/kernels/dare-mask';
import { DELTA, delta } from '../../src/core/kernels/delta';
import { disjointMean } from '../../src/core/kernels/disjoint-mean';
import { dot } from '../../src/core/kernels/dot';
import { electSign } from '../../src/core/kernels/elect-sign';
import { MAGNITUDE_BAND, magnitudeBand } from '../../src/core/kernels/magnitude-band';
import { weightedSum } from '../../src/core/kernels/weighted-sum';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { kthLargestAbs } from '../../src/core/merge/select';
import type { GpuTensor, WebGpuBackend } from '../../src/gpu/backend';
import { randomFloats } from '../helpers/checkpoints';
import { TIGHT, gpuBackend, requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

const SIZES = [0, 1, 255, 257, 1000, 4099];
const BIG = 300_001; // > 2 windows of the TIGHT binding limit, > 64 workgroups per dimension

function expectRel(got: Float32Array, want: Float32Array, rel = 1e-6, scale?: Float32Array) {
  expect(got.length).toBe(want.length);
  let bad = 0;
  let first = '';
  for (let i = 0; i < want.length; i++) {
    const tol = rel * Math.max(Math.abs(want[i]!), scale ? scale[i]! : 0);
    if (!(Math.abs(got[i]! - want[i]!) <= tol) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      if (!bad) first = `[${i}] gpu ${got[i]} cpu ${want[i]}`;
      bad++;
    }
  }
  expect(bad, first).toBe(0);
}

describe('WGSL kernels = CPU twins', () => {
  const backends = useGpuPair();

  const up = (be: WebGpuBackend, x: Float32Array) =>
    be.load(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), 'F32');
  const down = async (be: WebGpuBackend, t: GpuTensor) => {
    const b = await be.store(t, 'F32');
    be.release(t);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const cases = () =>
    [
      ...SIZES.map((n) => ({ label: `n=${n}`, n, be: backends.gpu })),
      { label: `n=${BIG} windowed + 2-D grid`, n: BIG, be: backends.tight },
    ] as const;

  it('adapter report and limits', () => {
    expect(backends.gpu.adapter.name.length).toBeGreaterThan(0);
    expect(backends.gpu.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(backends.gpu.name).toMatch(/^webgpu \(/);
  });

  it('f16 and bf16 load: every one of the 65536 bit patterns decodes bit-exactly', async () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    for (const dtype of ['F16', 'BF16'] as const) {
      for (const bytes of [new Uint8Array(all.buffer), new Uint8Array(all.buffer, 0, 2 * 65535) /* odd count */]) {
        const g = await down(backends.gpu, await backends.gpu.load(bytes, dtype));
        const c = decodeToF32(bytes, dtype);
        expect(Buffer.from(g.buffer, g.byteOffset, g.byteLength).equals(Buffer.from(c.buffer))).toBe(true);
      }
    }
  });

  it('f16 and bf16 store: round-to-nearest-even, halfway cases, subnormals, overflow, specials — identical bytes', async () => {
    const special = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.996,
      65520,
      1e9,
      -1e9,
      Infinity,
      -Infinity,
      NaN,
      2 ** -24,
      2 ** -25,
      2 ** -25 * 1.5,
      3 * 2 ** -26,
      2 ** -14,
      2 ** -14 * (1 - 2 ** -11),
      1e-40,
      -1e-45,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      3.4e38,
    ];
    const rnd = randomFloats(200_003, 5, 4);
    // random bit patterns hit every exponent, subnormals and NaN payloads
    const u = new Uint32Array(100_001);
    let s = 12345;
    for (let i = 0; i < u.length; i++) u[i] = s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const values = new Float32Array([...special, ...rnd, ...new Float32Array(u.buffer)]);
    for (const be of [backends.gpu, backends.tight]) {
      for (const dtype of ['F16', 'BF16', 'F32'] as const) {
        for (const n of [0, 1, 2, 3, values.length]) {
          const x = values.subarray(0, n);
          const t = await up(be, x);
          const g = await be.store(t, dtype);
          be.release(t);
          const c = encodeFromF32(x, dtype);
          expect(Buffer.from(g).equals(Buffer.from(c)), `${dtype} n=${n}`).toBe(true);
        }
      }
    }
  });

  it('delta is bit-identical', async () => {
    for (const { label, n, be } of cases()) {
      const a = randomFloats(n, 1);
      const b = randomFloats(n, 2);
      const ta = await up(be, a);
      const tb = await up(be, b);
      const g = await down(be, await be.elementwise(DELTA, [ta, tb], {}));
      expect(Buffer.from(g.buffer).equals(Buffer.from(delta(a, b).buffer)), label).toBe(true);
      be.release(ta);
      be.release(tb);
    }
  });

  it('weighted sum, 1 to 9 inputs (chained dispatches), ≤ 1e-6 relative', async () => {
    for (const { label, n, be } of cases()) {
      for (const k of [1, 2, 3, 4, 5, 9]) {
        const xs = Array.from({ length: k }, (_, t) => randomFloats(n, 10 + t));
        const ws = Array.from({ length: k }, (_, t) => (t % 2 ? -0.37 : 1.3) + t * 0.01);
        const ts = await Promise.all(xs.map((x) => up(be, x)));
        const g = await down(be, await be.weightedSum(ts, ws));
        const scale = new Float32Array(n).map((_, i) => xs.reduce((s, x, t) => s + Math.abs(ws[t]! * x[i]!), 0));
        expectRel(g, weightedSum(xs, ws), 1e-6, scale);
        ts.forEach((t) => be.release(t));
      }
      void label;
    }
  });

  it('abs-histogram counts are exact, and the radix-selected thresholds equal the CPU reference bit for bit (both entries)', async () => {
    const cpu = new CpuBackend();
    // main_global, SwiftShader's: atomics straight into the counts (windowed too).
    const globals = [
      await gpuBackend({ workgroupHistograms: false }),
      await gpuBackend({ ...TIGHT, workgroupHistograms: false }),
    ];
    const globalCases = cases().map((c) => ({
      ...c,
      label: `${c.label} main_global`,
      be: globals[c.be === backends.gpu ? 0 : 1]!,
    }));
    for (const { label, n, be } of [...cases(), ...globalCases]) {
      const x = randomFloats(n, 7, 0.02);
      // ties and specials: repeated values, zeros, ±inf, NaN
      for (let i = 0; i < n; i += 97) x[i] = x[(i * 7) % n]!;
      if (n > 10) x.set([0, -0, Infinity, NaN, -Infinity, 1e-40], 3);
      const t = await up(be, x);
      const pass = { prefix: 0, prefixShift: 31, shift: 20, width: 11 };
      const g = new Uint32Array(2048);
      await be.absHistogram(t, pass, g);
      const c = new Uint32Array(2048);
      absHistogram(x, pass, c);
      expect([...g], label).toEqual([...c]);
      for (const frac of [0, 0.001, 0.1, 0.5, 0.9, 1, 1.5]) {
        const k = Math.floor(frac * n);
        const gt = await kthLargestAbs(be, (visit) => visit(t), k);
        const ct = await kthLargestAbs(cpu, (visit) => visit(x), k);
        expect(Object.is(gt, ct) || gt === ct, `${label} k=${k}: ${gt} vs ${ct}`).toBe(true);
      }
      be.release(t);
    }
    for (const be of globals) await be.dispose();
  });

  it('radix select over a chunked tensor (histograms accumulate across chunks)', async () => {
    const cpu = new CpuBackend();
    const x = randomFloats(50_000, 9, 3);
    const parts = [x.subarray(0, 12_345), x.subarray(12_345, 40_000), x.subarray(40_000)];
    const ts = await Promise.all(parts.map((p) => up(backends.gpu, p)));
    for (const k of [1, 77, 25_000, 49_999, 50_000]) {
      const g = await kthLargestAbs(
        backends.gpu,
        async (visit) => {
          for (const t of ts) await visit(t);
        },
        k,
      );
      const c = await kthLargestAbs(
        cpu,
        async (visit) => {
          for (const p of parts) await visit(p);
        },
        k,
      );
      expect(g).toBe(c);
    }
    ts.forEach((t) => backends.gpu.release(t));
  });

  it('magnitude band is bit-identical (TIES and breadcrumbs bands, thresholds on ties)', async () => {
    for (const { label, n, be } of cases()) {
      const x = randomFloats(n, 3);
      if (n > 10) x.set([NaN, Infinity, -Infinity, -0, 0], 2);
      const t = await up(be, x);
      for (const [lo, hi] of [
        [0, Infinity],
        [Math.abs(x[0] ?? 0), Infinity],
        [0.25, 0.75],
        [Infinity, Infinity],
        [0.5, 0.5],
      ] as const) {
        const g = await down(be, await be.elementwise(MAGNITUDE_BAND, [t], { lo, hi }));
        expect(
          Buffer.from(g.buffer).equals(Buffer.from(magnitudeBand(x, lo, hi).buffer)),
          `${label} [${lo}, ${hi})`,
        ).toBe(true);
      }
      be.release(t);
    }
  });

  it('DARE mask keeps exactly the same elements (same counter RNG, same threshold) and the bytes match', async () => {
    for (const { label, n, be } of cases()) {
      const x = randomFloats(n, 4);
      const t = await up(be, x);
      for (const [density, seed, stream, offset, rescale] of [
        [0.1, 42, 7, 0, true],
        [0.5, 0, 0xdeadbeef, 123_456_789, false],
        [0.9, 0xffffffff, 1, 2 ** 31 + 5, true],
        [1, 3, 3, 0, true],
        [0, 3, 3, 0, true],
        [1 / 3, 77, 12, 4_000_000, true],
      ] as const) {
        const g = await down(be, await be.elementwise(DARE_MASK, [t], { density, seed, stream, offset, rescale }));
        const c = dareMask(x, density, seed, stream, offset, rescale);
        let maskDiffs = 0;
        for (let i = 0; i < n; i++) if ((g[i] === 0) !== (c[i] === 0)) maskDiffs++;
        expect(maskDiffs, `${label} mask`).toBe(0);
        expect(Buffer.from(g.buffer).equals(Buffer.from(c.buffer)), `${label} d=${density}`).toBe(true);
      }
      be.release(t);
    }
  });

  it('sign election, 1 to 7 inputs, is exact', async () => {
    for (const { label, n, be } of cases()) {
      for (const k of [1, 2, 3, 4, 5, 7]) {
        const xs = Array.from({ length: k }, (_, t) => randomFloats(n, 20 + t));
        if (n > 3) for (const x of xs) x[1] = 0; // all-zero column: elected +
        const ts = await Promise.all(xs.map((x) => up(be, x)));
        const g = await down(be, await be.electSign(ts));
        expect(Buffer.from(g.buffer).equals(Buffer.from(electSign(xs).buffer)), `${label} k=${k}`).toBe(true);
        ts.forEach((t) => be.release(t));
      }
    }
  });

  it('disjoint mean, 1 to 9 inputs (chained state), with and without normalize', async () => {
    for (const { label, n, be } of cases()) {
      for (const k of [1, 2, 3, 4, 5, 9]) {
        const xs = Array.from({ length: k }, (_, t) => randomFloats(n, 30 + t));
        for (const x of xs) for (let i = 0; i < n; i += 3) x[i] = 0; // sparsified: zeros never agree
        const ws = Array.from({ length: k }, (_, t) => 0.3 + 0.2 * t);
        const sign = electSign(xs);
        const ts = await Promise.all(xs.map((x) => up(be, x)));
        const ts_ = await up(be, sign);
        for (const normalize of [true, false]) {
          const g = await down(be, await be.disjointMean(ts, ws, ts_, normalize));
          expectRel(g, disjointMean(xs, ws, sign, normalize));
        }
        ts.forEach((t) => be.release(t));
        be.release(ts_);
      }
      void label;
    }
  });

  it('dot: per-block f32 partials summed in f64, ≤ 1e-6 relative', async () => {
    for (const { label, n, be } of cases()) {
      const a = randomFloats(n, 50);
      const b = randomFloats(n, 51);
      const ta = await up(be, a);
      const tb = await up(be, b);
      for (const [x, y, tx, ty] of [
        [a, b, ta, tb],
        [a, a, ta, ta],
      ] as const) {
        const g = await be.dot(tx, ty);
        const c = dot(x, y);
        const scale = x.reduce((s, v, i) => s + Math.abs(v * y[i]!), 0);
        expect(Math.abs(g - c), label).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(c), scale * 1e-3));
      }
      be.release(ta);
      be.release(tb);
    }
  });

  it('AIM scale: per-column factors over chunks at any offset, ≤ 1e-6 relative', async () => {
    for (const { label, n, be } of cases()) {
      for (const [cols, offset] of [
        [7, 0],
        [13, 5],
        [1, 3],
      ] as const) {
        const base = randomFloats(n, 11, 1);
        const merged = randomFloats(n, 12, 1);
        const scale = randomFloats(cols, 13, 0.5).map((v) => v + 0.5);
        const g = await down(
          be,
          await be.elementwise(AIM_SCALE, [await up(be, base), await up(be, merged), await up(be, scale)], {
            omega: 0.4,
            offset,
            cols,
          }),
        );
        const c = aimScale(base, merged, scale, 0.4, offset, cols);
        expectRel(
          g,
          c,
          1e-6,
          base.map((b, i) => Math.abs(b) + Math.abs(merged[i]!)),
        );
        void label;
      }
    }
    const x = await up(backends.gpu, randomFloats(8, 14, 1));
    const wrong = { omega: 0.4, offset: 0, cols: 7 };
    await expect(backends.gpu.elementwise(AIM_SCALE, [x, x, x], wrong)).rejects.toThrow(/scale has 8 entries, not 7/);
    backends.gpu.release(x);
  });

  it('pool: buffers are reused, byte counters balance', async () => {
    const before = backends.gpu.stats();
    for (let i = 0; i < 5; i++) {
      const t = await up(backends.gpu, randomFloats(1000, i));
      backends.gpu.release(t);
    }
    const after = backends.gpu.stats();
    expect(after.storage.reused).toBeGreaterThan(before.storage.reused);
    expect(after.storage.allocatedBytes).toBe(after.storage.inUseBytes + after.storage.freeBytes);
    expect(after.pipelinesCompiled).toBeGreaterThan(0);
  });
});
