/**
 * The deferred-cut TIES merge of one-chunk tensors (src/core/merge/fast/magnitude-deferred.ts)
 * against the counted path (selectCuts, then tiesPair) on the same task vectors: the same output
 * bits and the same cuts, on continuous values (ties rare), values from a few levels (the cut's
 * bucket full of ties), zero-heavy vectors, NaN and ±∞, every rank from nothing to everything,
 * and weights whose divisors are and are not powers of two. Also the reciprocal test itself.
 */
import { describe, expect, it } from 'vitest';
import {
  FULL_CUT,
  type Query,
  type TaskVectorPass,
  bitsOf,
  selectCuts,
} from '../../src/core/merge/fast/magnitude-cuts';
import { type PairBand, deferredBand, tiesPairDeferred } from '../../src/core/merge/fast/magnitude-deferred';
import { type BandState, pairDivisors, tiesPair } from '../../src/core/merge/fast/magnitude-kernels';
import { HIGH_BUCKETS, INF_BITS, bucketOfRank, countHigh } from '../../src/core/merge/fast/magnitude-select';
import { seededRandom } from '../../src/core/random';

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

/** The counted path: exact cuts by selectCuts, then tiesPair over the whole tensor. */
async function counted(ds: Float32Array[], ranks: number[], w: [number, number], base: Float32Array) {
  const queries: Query[] = ranks.map((rank, model) => ({ model, rank }));
  const pass: TaskVectorPass = async (ms, hists, visit) => {
    const views = ms.map((t) => ds[t]!);
    if (hists) views.forEach((d, j) => countHigh(bitsOf(d), hists[j]!));
    visit(views, 0);
  };
  await selectCuts(queries, pass, base.length);
  const cuts = queries.map((q) => q.cut!);
  const state = (t: number): BandState => ({ lo: cuts[t]!.bits, loLeft: cuts[t]!.ties, hi: INF_BITS, hiLeft: 0 });
  const out = new Float32Array(base.length);
  const [d0, d1] = ds.map((d) => d.slice()) as [Float32Array, Float32Array];
  const pair = { d0, b0: bitsOf(d0), d1, b1: bitsOf(d1), w0: w[0], w1: w[1] };
  tiesPair(pair, state(0), state(1), pairDivisors(w[0], w[1], true), base, 0.9, out, 0, base.length);
  return { out, cuts };
}

/** The deferred path, as mergeDeferred sets it up for ranks > 0. */
function deferred(ds: Float32Array[], ranks: number[], w: [number, number], base: Float32Array) {
  const [d0, d1] = ds.map((d) => d.slice()) as [Float32Array, Float32Array];
  const bands = [d0, d1].map((d, t): PairBand => {
    const hist = new Uint32Array(HIGH_BUCKETS);
    countHigh(bitsOf(d), hist);
    const high = bucketOfRank(hist, ranks[t]!);
    return high
      ? deferredBand(high, hist[high.bucket]!)
      : { lo: FULL_CUT.bits, loLeft: FULL_CUT.ties, hi: INF_BITS, hiLeft: 0 };
  }) as [PairBand, PairBand];
  const out = new Float32Array(base.length);
  const pair = { d0, b0: bitsOf(d0), d1, b1: bitsOf(d1), w0: w[0], w1: w[1] };
  const cuts = tiesPairDeferred(pair, bands, pairDivisors(w[0], w[1], true), base, 0.9, out);
  return { out, cuts };
}

describe('deferred TIES cuts = counted cuts', () => {
  const n = 30000; // several merge blocks; with 7 levels, thousands of ties dropped after the pass
  const base = taskVector(n, 99, 'continuous').map((x) => x * 50);
  it.each(['continuous', 'levels', 'zeros', 'specials'] as const)('%s task vectors', async (shape) => {
    const ds = [taskVector(n, 1, shape), taskVector(n, 2, shape)];
    for (const w of [
      [0.5, 0.5],
      [0.6, -0.35],
    ] as [number, number][])
      for (const ranks of [
        [1, n],
        [Math.floor(0.3 * n), Math.floor(0.55 * n)],
        [n - 1, 17],
        [n + 5, 4000],
      ]) {
        const want = await counted(ds, ranks, w, base);
        const got = deferred(ds, ranks, w, base);
        const where = `${shape} w=${w} ranks=${ranks}`;
        expect(new Int32Array(got.out.buffer), where).toEqual(new Int32Array(want.out.buffer));
        got.cuts.forEach((cut, t) => {
          if (cut) expect(cut, `${where} model ${t}`).toEqual(want.cuts[t]);
        });
      }
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
