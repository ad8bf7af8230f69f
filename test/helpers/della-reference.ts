/**
 * An independent f64 statement of mergekit's DELLA / DELLA-linear (sparsify.py's della_magprune
 * inside generalized_task_arithmetic.py) on small tensors, and the cases the CPU and WebGPU tests
 * share. The Bernoulli draws are the lab's documented hash (rng.ts: keep when
 * randomU32(seed, stream, index) >>> 8 < round(p · 2^24)), as for DARE; mergekit draws from torch.
 */
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { fnv1a, lowbias32, randomU32 } from '../../src/core/kernels/rng';
import { randomFloats } from './checkpoints';
import { valuesCheckpoint } from './merge-harness';
import { rescaleRef } from './mergekit-reference';

export const DELLA_SHAPES: Readonly<Record<string, readonly number[]>> = { w: [5, 6], b: [9] };

interface DellaModel {
  readonly name: string;
  readonly weight: number;
  readonly density: number;
  readonly epsilon?: number;
}

export interface DellaCase {
  readonly name: string;
  readonly method: 'della' | 'della_linear';
  readonly models: readonly DellaModel[];
  readonly lambda?: number;
  readonly normalize?: boolean;
  readonly rescale?: boolean;
  readonly seed: number;
  readonly dtype: DType;
  readonly yaml: string;
  checkpoints(): Promise<Awaited<ReturnType<typeof valuesCheckpoint>>[]>;
}

/** The stored values of model `m` (rounded to the case's dtype). */
function stored(c: Omit<DellaCase, 'yaml' | 'checkpoints'>, m: string, name: string): number[] {
  const n = DELLA_SHAPES[name]!.reduce((a, b) => a * b, 1);
  const seed = { base: 1, a: 2, b: 3 }[m]! * 10 + (name === 'w' ? 0 : 5);
  const raw = randomFloats(n, seed).map((v) => (m === 'base' ? v : v * 0.5));
  return [...decodeToF32(encodeFromF32(raw, c.dtype), c.dtype)];
}

function make(c: Omit<DellaCase, 'yaml' | 'checkpoints'>): DellaCase {
  const params = (m: DellaModel) =>
    `{weight: ${m.weight}, density: ${m.density}${m.epsilon !== undefined ? `, epsilon: ${m.epsilon}` : ''}}`;
  const globals = [
    c.lambda !== undefined ? `lambda: ${c.lambda}` : '',
    c.normalize !== undefined ? `normalize: ${c.normalize}` : '',
    c.rescale !== undefined ? `rescale: ${c.rescale}` : '',
  ].filter(Boolean);
  const yaml = [
    `merge_method: ${c.method}`,
    'base_model: base',
    `models: [${c.models.map((m) => `{model: ${m.name}, parameters: ${params(m)}}`).join(', ')}]`,
    ...(globals.length ? [`parameters: {${globals.join(', ')}}`] : []),
    `random_seed: ${c.seed}`,
    'dtype: float32',
  ].join('\n');
  const checkpoints = () =>
    Promise.all(
      ['base', ...c.models.map((m) => m.name)].map((m) =>
        valuesCheckpoint(
          m,
          Object.fromEntries(
            Object.entries(DELLA_SHAPES).map(([name, shape]) => [
              name,
              { shape: [...shape], values: stored(c, m, name) },
            ]),
          ),
          c.dtype,
        ),
      ),
    );
  return { ...c, yaml, checkpoints } as DellaCase;
}

/** della_magprune's mask for one task vector: ranks along dim 1 (1-D: one row), p = density − ε + 2ε·rank_norm. */
export function dellaMaskRef(
  d: readonly number[],
  shape: readonly number[],
  density: number,
  epsilon: number,
  seed: number,
  stream: number,
): number[] {
  const cols = shape.length < 2 ? d.length : shape[1]!;
  const mask = d.map(() => 0);
  for (let row = 0; row * cols < d.length; row++) {
    const idx = Array.from({ length: cols }, (_, j) => row * cols + j);
    const ascending = [...idx].sort((i, j) => Math.abs(d[i]!) - Math.abs(d[j]!) || i - j);
    ascending.forEach((i, r) => {
      const rank = r + 1; // argsort().argsort() + 1
      const rankNorm = (rank - 1) / (cols - 1); // (ranks − min) / (max − min)
      const p = density - epsilon + rankNorm * 2 * epsilon;
      mask[i] = randomU32(seed, stream, i) >>> 8 < Math.round(p * 2 ** 24) ? 1 : 0;
    });
  }
  return mask;
}

/** GTATask.execute with della_magprune for tensor `name` of the case. */
export function dellaRef(c: DellaCase, name: string, shape: readonly number[]): number[] {
  const base = stored(c, 'base', name);
  const rescale = c.rescale ?? true;
  const tvs = c.models.map((m, k) => {
    let delta = stored(c, m.name, name).map((v, i) => v - base[i]!);
    if (m.density < 1) {
      const stream = (fnv1a(name) ^ lowbias32(k + 1)) >>> 0;
      const mask = dellaMaskRef(delta, shape, m.density, m.epsilon ?? 0.15, c.seed, stream);
      delta = rescale ? rescaleRef(delta, mask) : delta.map((v, i) => v * mask[i]!);
    }
    return { weight: m.weight, delta };
  });
  const normalize = c.normalize ?? c.method === 'della';
  return base.map((b, i) => {
    const x = tvs.map((tv) => tv.delta[i]! * tv.weight);
    let mixed: number;
    let divisor: number;
    if (c.method === 'della') {
      const majority = x.reduce((s, v) => s + v, 0) >= 0 ? 1 : -1;
      const agree = x.map((v) => Math.sign(v) === majority);
      mixed = x.reduce((s, v, k) => s + (agree[k] ? v : 0), 0);
      divisor = tvs.reduce((s, tv, k) => s + (agree[k] ? tv.weight : 0), 0) || 1;
    } else {
      mixed = x.reduce((s, v) => s + v, 0);
      divisor = tvs.reduce((s, tv) => s + tv.weight, 0);
      if (Math.abs(divisor) < 1e-8) divisor = 1;
    }
    if (normalize) mixed /= divisor;
    return b + (c.lambda ?? 1) * mixed;
  });
}

export const dellaCase = {
  all: [
    make({
      name: 'della_linear, two models, negative weight, λ 1.5, ε 0.2 (rescale by default)',
      method: 'della_linear',
      models: [
        { name: 'a', weight: 0.7, density: 0.5, epsilon: 0.2 },
        { name: 'b', weight: -0.4, density: 0.6 },
      ],
      lambda: 1.5,
      seed: 5,
      dtype: 'F32',
    }),
    make({
      name: 'della_linear, normalize on, rescale off',
      method: 'della_linear',
      models: [
        { name: 'a', weight: 0.3, density: 0.4, epsilon: 0.1 },
        { name: 'b', weight: 0.9, density: 0.7, epsilon: 0.25 },
      ],
      normalize: true,
      rescale: false,
      seed: 0,
      dtype: 'F32',
    }),
    make({
      name: 'della (sign consensus, normalize and rescale by default), bf16 inputs',
      method: 'della',
      models: [
        { name: 'a', weight: 1, density: 0.5 },
        { name: 'b', weight: 0.6, density: 0.3, epsilon: 0.2 },
      ],
      seed: 17,
      dtype: 'BF16',
    }),
    make({
      name: 'della, normalize off, λ 0.8, negative weight',
      method: 'della',
      models: [
        { name: 'a', weight: -0.5, density: 0.55, epsilon: 0.3 },
        { name: 'b', weight: 1.2, density: 0.45 },
      ],
      normalize: false,
      lambda: 0.8,
      seed: 2,
      dtype: 'F32',
    }),
  ],
};
