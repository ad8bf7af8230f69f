/**
 * TIES of two models streamed from the inputs on the SIMD kernels (src/core/merge/fast/ties-pair-stream.ts)
 * and its kernels: the selection's counts (the 8-copy top-16-bit histogram, the low-bit window with
 * its totals below, above and NaN, task vectors counted without being kept) against plain loops;
 * the SIMD trim against maskBand, ties at the cut split inside a block and across blocks; the merge
 * from storage words against task vector → tiesPair; and whole merges against the reference backend
 * where the first chunk's guess must miss (its task vectors unlike the rest), with quantized task
 * vectors full of ties, NaN and ±∞, f32 inputs (merged at once, not left pending) and an f16 output.
 */
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype';
import type { TensorBackend } from '../../src/core/merge/backend';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { decodeTable, decodeWords, encodeFrom } from '../../src/core/merge/fast/codec';
import { FastCpuBackend } from '../../src/core/merge/fast/fast-cpu-backend';
import { type BandState, maskBand } from '../../src/core/merge/fast/magnitude-band';
import { bitsOf } from '../../src/core/merge/fast/magnitude-cuts';
import { pairDivisors, tiesPair } from '../../src/core/merge/fast/magnitude-kernels';
import { HIGH_BUCKETS, INF_BITS, LOW_BUCKETS, countHigh } from '../../src/core/merge/fast/magnitude-select';
import { type Half, simdKernels } from '../../src/core/merge/fast/simd/simd-kernels';
import { seededRandom } from '../../src/core/random';
import { firstDifference } from '../helpers/backend-identity';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';

const simd = simdKernels()!;
type Shape = 'continuous' | 'levels' | 'zeros' | 'specials';

function taskVector(n: number, seed: number, shape: Shape): Float32Array {
  const random = seededRandom(seed);
  const d = Float32Array.from({ length: n }, () => {
    if (shape === 'levels') return (Math.floor(random() * 7) - 3) * 0.125;
    if (shape === 'zeros' && random() < 0.7) return 0;
    return (random() + random() - 1) * 0.01;
  });
  if (shape === 'specials') [d[3], d[n >> 1], d[n - 1]] = [NaN, Infinity, -Infinity];
  return d;
}

const SHAPES = ['continuous', 'levels', 'zeros', 'specials'] as const;

describe('the selection counts on the SIMD kernels = plain loops', () => {
  it.each(SHAPES)('top-16-bit histogram and low-bit window with its totals, %s', (shape) => {
    for (const n of [5, 4099, 3 * 4096 + 7]) {
      const d = taskVector(n, n, shape);
      const bits = bitsOf(d);
      const high = new Uint32Array(HIGH_BUCKETS);
      countHigh(bits, high);
      const got = new Uint32Array(HIGH_BUCKETS);
      simd.countHigh(bits, got);
      simd.countHigh(bits, got); // counts add up; nothing is left in the module between calls
      expect(got, `n=${n}`).toEqual(high.map((c) => 2 * c));

      // A window around the busiest bucket, counted from the task vector's inputs (never stored).
      const busiest = high.indexOf(Math.max(...high));
      const first = Math.max(0, busiest - 1);
      const count = 3;
      const base = Float32Array.from({ length: n }, (_, i) => (i % 13) * 0.5);
      const x = base.map((b, i) => b + d[i]!);
      const delta = x.map((v, i) => v - base[i]!); // x − base may round: count what the merge sees
      const want = { low: new Uint32Array(count * LOW_BUCKETS), below: 0, above: 0, nan: 0 };
      for (const b of bitsOf(delta)) {
        const a = b & 0x7fffffff;
        const slot = (a >>> 15) - first;
        if (a > INF_BITS) want.nan++;
        else if (slot < 0) want.below++;
        else if (slot >= count) want.above++;
        else want.low[slot * LOW_BUCKETS + (a & (LOW_BUCKETS - 1))]!++;
      }
      simd.countDeltas({ values: base }, [{ x: { values: x }, first, count, slot: 1 }]);
      const w = simd.window(1, count);
      expect({ ...w, low: [...w.low] }, `n=${n}`).toEqual({ ...want, low: [...want.low] });
      simd.clearWindow(1, count);
      expect(simd.window(1, count).low.every((c) => c === 0) && simd.window(1, count).nan).toBe(0);
    }
  });
});

/** A band from a cut at the value a fraction of the way down the sorted |d|, with `ties` of its equals kept. */
function bandAt(d: Float32Array, fraction: number, ties: number, hi?: { at: number; ties: number }): BandState {
  const sorted = [...bitsOf(d)]
    .map((b) => b & 0x7fffffff)
    .filter((a) => a <= INF_BITS)
    .sort((a, b) => b - a);
  const lo = sorted[Math.floor(fraction * (sorted.length - 1))]!;
  const top = hi ? sorted[Math.floor(hi.at * (sorted.length - 1))]! : INF_BITS;
  return { lo, loLeft: ties, hi: top, hiLeft: hi?.ties ?? 0 };
}

describe('the SIMD trim = maskBand, ties at the bounds counted off in index order', () => {
  it.each(SHAPES)('%s task vectors, whole blocks and split ones', (shape) => {
    const n = 3 * 4096 + 5;
    const [d0, d1] = [taskVector(n, 1, shape), taskVector(n, 2, shape)];
    const base = taskVector(n, 3, 'continuous').map((v) => v * 40);
    const count = (d: Float32Array, band: BandState) => bitsOf(d).filter((b) => (b & 0x7fffffff) === band.lo).length;
    for (const [w0, w1] of [
      [0.5, 0.5],
      [0.6, -0.35],
    ]) {
      const divisors = pairDivisors(w0!, w1!, true);
      // Ties kept: none, all, some (ending inside a later block), one; a breadcrumbs-style top bound too.
      const b0 = bandAt(d0, 0.3, 0);
      for (const ties of [0, Infinity, Math.floor(count(d0, b0) * 0.7), 1]) {
        const bands = [bandAt(d0, 0.3, ties), bandAt(d1, 0.55, Math.ceil(ties / 2), { at: 0.02, ties: 3 })];
        const want = new Float32Array(n);
        const scalar = { d0: d0.slice(), d1: d1.slice(), w0: w0!, w1: w1! };
        const pair = { ...scalar, b0: bitsOf(scalar.d0), b1: bitsOf(scalar.d1) };
        const wantBands = bands.map((b) => ({ ...b }));
        tiesPair(pair, wantBands[0], wantBands[1], divisors, base, 0.9, want, 0, n);
        const got = new Float32Array(n);
        const gotBands = bands.map((b) => ({ ...b }));
        tiesPair(
          { ...pair, d0, b0: bitsOf(d0), d1, b1: bitsOf(d1), simd },
          gotBands[0],
          gotBands[1],
          divisors,
          base,
          0.9,
          got,
          0,
          n,
        );
        const where = `${shape} w=${w0},${w1} ties=${ties}`;
        expect(firstDifference(new Uint8Array(got.buffer), new Uint8Array(want.buffer)), where).toBe(-1);
        expect(
          gotBands.map((b) => b.loLeft > 0),
          where,
        ).toEqual(wantBands.map((b) => b.loLeft > 0));
        expect(
          gotBands.map((b) => b.hiLeft > 0),
          where,
        ).toEqual(wantBands.map((b) => b.hiLeft > 0));
      }
    }
  });

  it('maskBand itself: a band keeps |x| inside it and the first ties at each bound', () => {
    const bits = bitsOf(Float32Array.from([1, -2, 2, 3, -3, 3, NaN, 0.5, 2]));
    const band: BandState = {
      lo: bitsOf(Float32Array.of(2))[0]!,
      loLeft: 2,
      hi: bitsOf(Float32Array.of(3))[0]!,
      hiLeft: 1,
    };
    maskBand(bits, band, 0, bits.length);
    expect([...new Float32Array(bits.buffer)]).toEqual([0, -2, 2, 0, -3, 3, 0, 0, 0]);
  });
});

describe('TIES from storage words on the SIMD kernels = task vectors, then tiesPair', () => {
  it.each(['BF16', 'F16'] as const)('%s inputs, to 16-bit words and to f32', (dtype: Half) => {
    const n = 2 * 4096 + 3;
    const random = seededRandom(7);
    const [w0, w1, wb] = [1, 2, 3].map(() => {
      const v = Float32Array.from({ length: n }, () => Math.round((random() - 0.5) * 64) / 16);
      [v[2], v[9]] = [NaN, -Infinity];
      return new Uint16Array(encodeFrom(v, dtype).buffer);
    }) as [Uint16Array, Uint16Array, Uint16Array];
    const table = decodeTable(dtype);
    const [x0, x1, base] = [w0, w1, wb].map((w) => {
      const v = new Float32Array(n);
      decodeWords(w, table, v);
      return v;
    }) as [Float32Array, Float32Array, Float32Array];
    const [d0, d1] = [x0, x1].map((x) => x.map((v, i) => v - base[i]!)) as [Float32Array, Float32Array];
    const bands = [bandAt(d0, 0.4, 5), bandAt(d1, 0.2, Infinity)];
    const divisors = pairDivisors(0.7, 0.45, true);
    const want = new Float32Array(n);
    const pair = { d0, b0: bitsOf(d0), d1, b1: bitsOf(d1), w0: 0.7, w1: 0.45 };
    tiesPair(pair, { ...bands[0]! }, { ...bands[1]! }, divisors, base, 1.1, want, 0, n);
    const args = {
      x0: { words: w0, dtype },
      x1: { words: w1, dtype },
      base: { words: wb, dtype },
      w0: 0.7,
      w1: 0.45,
      scales: divisors.divisors,
      multiply: false,
      lambda: 1.1,
    };
    const values = new Float32Array(n);
    simd.tiesPairFrom(
      args,
      bands.map((b) => ({ ...b })),
      { values },
    );
    expect(firstDifference(new Uint8Array(values.buffer), new Uint8Array(want.buffer))).toBe(-1);
    const words = new Uint16Array(n);
    simd.tiesPairFrom(
      args,
      bands.map((b) => ({ ...b })),
      { words, dtype: 'BF16' },
    );
    expect(firstDifference(new Uint8Array(words.buffer), encodeFrom(want, 'BF16'))).toBe(-1);
  });
});

/** Checkpoints whose first chunk's task vectors are tiny and the rest large: a guess from the first chunk misses. */
async function unevenModels(dtype: DType, n: number, chunk: number) {
  const random = seededRandom(41);
  const base = Float32Array.from({ length: n }, () => Math.round((random() - 0.5) * 32) / 8);
  const model = (seed: number) => {
    const r = seededRandom(seed);
    return base.map((b, i) => {
      if (i === 9) return NaN;
      if (i === 21) return seed % 2 ? Infinity : -Infinity;
      const level = Math.floor(r() * 9) - 4; // a few levels: many ties at the cut
      return b + level * (i < chunk ? 2 ** -9 : 0.5);
    });
  };
  const tensors = (values: Float32Array) => ({ 'w.weight': { shape: [n / 8, 8], values } });
  return [
    await valuesCheckpoint('base', tensors(base), dtype),
    await valuesCheckpoint('a', tensors(model(1)), dtype),
    await valuesCheckpoint('b', tensors(model(2)), dtype),
  ];
}

describe('streamed TIES merges = reference backend, byte for byte', () => {
  const recipe = (outDtype?: string) =>
    'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.3}}, ' +
    `{model: b, parameters: {weight: 0.45, density: 0.8}}]\nparameters: {lambda: 0.9}` +
    (outDtype ? `\ndtype: ${outDtype}` : '');
  // Each chunked case's first chunk is all small task-vector values: model a's guess misses.
  it.each([
    ['BF16', undefined, undefined],
    ['BF16', 4096, undefined],
    ['F16', 3000, undefined],
    ['F32', 5000, undefined],
    ['BF16', 4096, 'float16'],
  ] as const)('%s inputs, chunks of %s, out %s', async (dtype, chunkElements, out) => {
    const models = await unevenModels(dtype, 12000, chunkElements ?? 3000);
    const run = (backend: TensorBackend<unknown>) => runMerge(recipe(out), models, { backend, chunkElements });
    const want = await run(new CpuBackend() as TensorBackend<unknown>);
    const got = await run(new FastCpuBackend(undefined, simd) as TensorBackend<unknown>);
    for (const [file, bytes] of want.out.files) expect(firstDifference(got.out.files.get(file), bytes), file).toBe(-1);
    expect(got.summary.diagnostics).toEqual(want.summary.diagnostics);
  });
});

describe('pairDivisors', () => {
  it('gives reciprocals only when every divisor is a power of two', () => {
    expect(pairDivisors(0.5, 0.5, true).reciprocals).toEqual(new Float64Array([1, 2, 2, 1]));
    expect(pairDivisors(0.6, 0.4, true).reciprocals).toBeUndefined();
    expect(pairDivisors(0.25, 0.5, true).reciprocals).toBeUndefined(); // 0.75
    expect(pairDivisors(0.6, 0.4, false).reciprocals).toEqual(new Float64Array([1, 1, 1, 1]));
    expect(pairDivisors(-0.5, 0, true).reciprocals).toEqual(new Float64Array([1, -2, 1, -2]));
  });
});

describe('countHigh', () => {
  it('counts long arrays (two histograms, an odd tail) as one plain loop does', () => {
    for (const n of [HIGH_BUCKETS - 1, 3 * HIGH_BUCKETS + 1]) {
      const x = taskVector(n, 5, 'specials').map((v, i) => (i % 5 === 0 ? 0.25 : v)); // runs of one bucket
      x[n - 1] = 7; // the odd tail
      const bits = bitsOf(x);
      const want = new Uint32Array(HIGH_BUCKETS);
      for (const b of bits) if ((b & 0x7fffffff) <= INF_BITS) want[(b & 0x7fffffff) >>> 15]!++;
      const got = new Uint32Array(HIGH_BUCKETS);
      countHigh(bits, got);
      countHigh(bits, got); // counts add up; nothing left over between calls
      expect(got, `n=${n}`).toEqual(want.map((c) => 2 * c));
    }
  });
});
