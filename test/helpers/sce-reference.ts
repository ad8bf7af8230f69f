/**
 * An independent f64 statement of mergekit's sce_merge (merge_methods/sce.py) on small tensors,
 * and the cases the CPU and WebGPU tests share: base plus three models, 2-D and 1-D tensors,
 * select_topk 1 and below, f32 and bf16 inputs, and a tensor full of variance ties.
 */
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { randomFloats } from './checkpoints';
import { valuesCheckpoint } from './merge-harness';

export const SCE_SHAPES: Readonly<Record<string, readonly number[]>> = { w: [4, 5], b: [7], ties: [12] };
const MODELS = ['a', 'b', 'c'];

export interface SceCase {
  readonly name: string;
  readonly selectTopk?: number;
  readonly dtype: DType;
  readonly yaml: string;
  checkpoints(): Promise<Awaited<ReturnType<typeof valuesCheckpoint>>[]>;
}

/** Model m's stored values of tensor `name` (rounded to the dtype); `ties` has few distinct values. */
export function sceStored(dtype: DType, m: string, name: string): number[] {
  const n = SCE_SHAPES[name]!.reduce((a, b) => a * b, 1);
  const k = ['base', ...MODELS].indexOf(m);
  const raw =
    name === 'ties'
      ? Float32Array.from({ length: n }, (_, i) => (k === 0 ? 0 : ((i * (k + 1)) % 3) - 1))
      : randomFloats(n, 40 + 7 * k + name.length).map((v) => (k === 0 ? v : v * 0.3 * k));
  return [...decodeToF32(encodeFromF32(raw, dtype), dtype)];
}

function make(name: string, dtype: DType, selectTopk?: number): SceCase {
  const yaml = [
    'merge_method: sce',
    'base_model: base',
    `models: [${MODELS.map((m) => `{model: ${m}}`).join(', ')}]`,
    ...(selectTopk !== undefined ? [`parameters: {select_topk: ${selectTopk}}`] : []),
    'dtype: float32',
  ].join('\n');
  const checkpoints = () =>
    Promise.all(
      ['base', ...MODELS].map((m) =>
        valuesCheckpoint(
          m,
          Object.fromEntries(
            Object.entries(SCE_SHAPES).map(([t, shape]) => [t, { shape: [...shape], values: sceStored(dtype, m, t) }]),
          ),
          dtype,
        ),
      ),
    );
  return { name, selectTopk, dtype, yaml, checkpoints };
}

/** sce_merge for one tensor: select by variance, weight by mean square, erase by sign. */
export function sceRef(c: SceCase, name: string): number[] {
  const base = sceStored(c.dtype, 'base', name);
  const n = base.length;
  let tvs = MODELS.map((m) => sceStored(c.dtype, m, name).map((v, i) => v - base[i]!));
  const topk = c.selectTopk ?? 1;
  if (topk < 1) {
    const variance = base.map((_, i) => {
      const mean = tvs.reduce((s, tv) => s + tv[i]!, 0) / tvs.length;
      return tvs.reduce((s, tv) => s + (tv[i]! - mean) ** 2, 0) / tvs.length;
    });
    const k = Math.trunc(variance.filter((v) => v !== 0).length * topk);
    // torch.topk(largest); ties taken lowest index first.
    const top = new Set(
      variance
        .map((_, i) => i)
        .sort((i, j) => Math.abs(variance[j]!) - Math.abs(variance[i]!) || i - j)
        .slice(0, k),
    );
    tvs = tvs.map((tv) => tv.map((v, i) => (top.has(i) ? v : 0)));
  }
  const means = tvs.map((tv) => tv.reduce((s, v) => s + v * v, 0) / n);
  const sum = means.reduce((a, b) => a + b, 0);
  const weights = Math.abs(sum) < 1e-6 ? means.map(() => 1 / means.length) : means.map((m) => m / sum);
  return base.map((b, i) => {
    const majority = tvs.reduce((s, tv) => s + tv[i]!, 0) >= 0 ? 1 : -1;
    let merged = 0;
    let divisor = 0;
    tvs.forEach((tv, t) => {
      if (Math.sign(tv[i]!) !== majority) return;
      merged += tv[i]! * weights[t]!;
      divisor += weights[t]!;
    });
    return b + merged / Math.max(divisor, 1e-6);
  });
}

export const SCE_CASES: readonly SceCase[] = [
  make('select_topk 1 (default): weights by mean square, sign erase', 'F32'),
  make('select_topk 0.5', 'F32', 0.5),
  make('select_topk 0.3, bf16 inputs', 'BF16', 0.3),
  make('select_topk 0 keeps nothing: the base', 'F32', 0),
];
