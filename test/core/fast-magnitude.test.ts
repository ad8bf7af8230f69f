/**
 * The fast CPU backend's own TIES / breadcrumbs path (src/core/merge/fast/magnitude-merge.ts)
 * against the reference backend's shared path, byte for byte and diagnostics for diagnostics, on
 * task vectors built to stress the selection: |δ| drawn from a few values (ties at the threshold
 * straddling the cut, within and across chunks), long runs of exact zeros, NaN and ±∞, a −0 base, a tensor
 * whose every |δ| is equal; densities 0 and 1; two and three models; chunk sizes that split the
 * ties; every storage dtype. Also the two-pass selection against select.ts's topKCut directly.
 */
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype';
import type { TensorBackend } from '../../src/core/merge/backend';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { FastCpuBackend } from '../../src/core/merge/fast/fast-cpu-backend';
import { countWindow } from '../../src/core/merge/fast/magnitude-cuts';
import { simdKernels } from '../../src/core/merge/fast/simd/simd-kernels';
import {
  HIGH_BUCKETS,
  LOW_BUCKETS,
  bucketOfRank,
  countHigh,
  exactOfRank,
  nthEqual,
} from '../../src/core/merge/fast/magnitude-select';
import { bitsToF32, topKCut } from '../../src/core/merge/select';
import { seededRandom } from '../../src/core/random';
import { firstDifference } from '../helpers/backend-identity';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';

/** δ values from a small set (many exact ties), a run of zeros, optionally NaN and ±∞. */
function tiedDeltas(n: number, seed: number, specials: boolean): Float32Array {
  const random = seededRandom(seed);
  const d = Float32Array.from({ length: n }, () => (Math.floor(random() * 9) - 4) * 0.25);
  d.fill(0, Math.floor(n / 3), Math.floor(n / 3) + 40);
  if (specials) [d[5], d[17], d[n - 2]] = [NaN, Infinity, -Infinity];
  return d;
}

async function models(dtype: DType, specials: boolean, k: number) {
  const shapes: Record<string, number[]> = { 'w.weight': [30, 25], 'flat.weight': [64], 'v.bias': [7] };
  const base = Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const random = seededRandom(name.length);
      const values = Float32Array.from({ length: n }, () => Math.round(random() * 8) * 0.5);
      values[Math.floor(n / 3) + 1] = -0; // where no task vector is nonzero: θ₀ + λ·(+0) must stay +0
      return [name, values];
    }),
  );
  const model = (seed: number) =>
    Object.fromEntries(
      Object.entries(shapes).map(([name, shape]) => {
        const b = base[name]!;
        const d =
          name === 'flat.weight'
            ? new Float32Array(b.length).fill(seed % 2 ? 0.5 : -0.5)
            : tiedDeltas(b.length, seed, specials);
        return [name, { shape, values: b.map((x, i) => x + d[i]!) }];
      }),
    );
  const ms = [
    await valuesCheckpoint(
      'base',
      Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, { shape: s, values: base[n]! }])),
      dtype,
    ),
  ];
  for (let t = 0; t < k; t++) ms.push(await valuesCheckpoint(['a', 'b', 'c'][t]!, model(11 + t), dtype));
  return ms;
}

const RECIPES: Record<string, string> = {
  ties: 'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.3}}, {model: b, parameters: {weight: -0.5, density: 0.55}}]\nparameters: {lambda: 0.9}',
  'ties, three models, unnormalized':
    'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.2}}, {model: b, parameters: {weight: 0.5, density: 0.7}}, {model: c, parameters: {weight: 0.3, density: 0.45}}]\nparameters: {normalize: false}',
  'ties, densities 0 and 1':
    'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0}}, {model: b, parameters: {weight: 0.5, density: 1}}]',
  'ties, negative weights':
    'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: -0.6, density: 0.4}}, {model: b, parameters: {weight: -0.5, density: 0.3}}]',
  // Weights whose disjoint-mean divisors are powers of two: the merge multiplies by exact reciprocals.
  'ties, weights 0.5':
    'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.5, density: 0.3}}, {model: b, parameters: {weight: 0.5, density: 0.65}}]',
  'ties, unnormalized':
    'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7, density: 0.45}}, {model: b, parameters: {weight: 0.3, density: 0.25}}]\nparameters: {normalize: false, lambda: 1.3}',
  'ties, one model':
    'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.8, density: 0.35}}]',
  breadcrumbs:
    'merge_method: breadcrumbs\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.5, gamma: 0.1}}, {model: b, parameters: {weight: 0.5, density: 0.4, gamma: 0.05}}]',
  breadcrumbs_ties:
    'merge_method: breadcrumbs_ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.5, gamma: 0.2}}, {model: b, parameters: {weight: 0.5, density: 0.3, gamma: 0.15}}]',
};
const MODELS_OF: Record<string, number> = { 'ties, three models, unnormalized': 3, 'ties, one model': 1 };

/** [NaN and ±∞ in δ, chunk elements, diagnostics]: one chunk, many small ones, a few large ones. */
const COMBINATIONS: [boolean, number | undefined, boolean][] = [
  [false, undefined, false],
  [true, undefined, true],
  [true, 7, true],
  [false, 37, false],
  [true, 250, false],
];

describe('fast magnitude merges = reference, byte for byte', () => {
  describe.each(['F32', 'F16', 'BF16'] as const)('%s', (dtype) => {
    it.each(Object.keys(RECIPES))('%s', async (name) => {
      for (const [specials, chunkElements, diagnostics] of COMBINATIONS) {
        const run = async (backend: TensorBackend<unknown>) =>
          runMerge(RECIPES[name]!, await models(dtype, specials, MODELS_OF[name] ?? 2), {
            backend,
            chunkElements,
            diagnostics,
          });
        const want = await run(new CpuBackend() as TensorBackend<unknown>);
        // On the wasm SIMD kernels, and on the scalar ones (where wasm SIMD is missing).
        for (const simd of [simdKernels(), undefined]) {
          const got = await run(new FastCpuBackend(undefined, simd) as TensorBackend<unknown>);
          const where = `${name} ${dtype} specials=${specials} chunk=${chunkElements} diagnostics=${diagnostics} simd=${!!simd}`;
          for (const [file, bytes] of want.out.files)
            expect(firstDifference(got.out.files.get(file), bytes), `${where} ${file}`).toBe(-1);
          expect(got.summary.diagnostics, where).toEqual(want.summary.diagnostics);
        }
      }
    });
  });
});

describe('two-pass selection = select.ts topKCut', () => {
  it('finds the same cut for every k on tied, zero-heavy and special values, whole and in chunks', async () => {
    const ref = new CpuBackend();
    const x = tiedDeltas(500, 3, true);
    const handle = await ref.load(new Uint8Array(x.buffer), 'F32');
    const bits = new Int32Array(x.buffer);
    const high = new Uint32Array(HIGH_BUCKETS);
    countHigh(bits, high);
    for (const k of [1, 2, 7, 50, 123, 250, 300, 497, 498]) {
      const want = await topKCut(ref, (visit) => visit(handle, 0), x.length, k);
      const at = bucketOfRank(high, k);
      if (!at) {
        expect(want).toEqual({ value: 0, tieEnd: Infinity });
        continue;
      }
      const low = new Uint32Array(LOW_BUCKETS);
      countWindow(bits, at.bucket, 1, low); // the bucket's low bits
      const exact = exactOfRank(at, low);
      expect(bitsToF32(exact.bits), `k=${k}`).toBe(want.value);
      const tieEnd = exact.tieRank === exact.ties ? Infinity : nthEqual(bits, exact.bits, exact.tieRank).index + 1;
      expect(tieEnd, `k=${k}`).toBe(want.tieEnd);
    }
    expect(bucketOfRank(high, 500)).toBeUndefined(); // one NaN: 499 counted elements
  });
});
