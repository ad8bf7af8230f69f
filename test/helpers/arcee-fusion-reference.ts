/** mergekit's arcee_fusion in f64 on small stored tensors (exact quantiles), for the CPU and WebGPU tests. */
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { randomFloats } from './checkpoints';
import { runMerge, valuesCheckpoint } from './merge-harness';

export const FUSION_SHAPES: Readonly<Record<string, readonly number[]>> = { w: [6, 8], b: [10] };

export function fusionStored(model: 'base' | 'other', name: string, dtype: DType): number[] {
  const n = FUSION_SHAPES[name]!.reduce((a, b) => a * b, 1);
  const base = randomFloats(n, 80 + name.length);
  // The other model: small changes, a few large ones (outliers of |δ|).
  const raw =
    model === 'base'
      ? base
      : base.map((v, i) => v + (i % 7 === 3 ? 2.5 : 0.05) * randomFloats(n, 81 + name.length)[i]!);
  return [...decodeToF32(encodeFromF32(raw, dtype), dtype)];
}

export async function runFusion(dtype: DType, opts: Parameters<typeof runMerge>[2] = {}) {
  const ck = (m: 'base' | 'other') =>
    valuesCheckpoint(
      m,
      Object.fromEntries(
        Object.entries(FUSION_SHAPES).map(([t, s]) => [t, { shape: [...s], values: fusionStored(m, t, dtype) }]),
      ),
      dtype,
    );
  return runMerge(
    'merge_method: arcee_fusion\nbase_model: base\nmodels: [{model: other}]\ndtype: float32',
    [await ck('base'), await ck('other')],
    opts,
  );
}

/** ArceeFusionMergeTask.execute for one tensor, with exact quantiles (no sampling below 10⁶ elements). */
export function fusionRef(name: string, dtype: DType): { values: number[]; swapped: number } {
  const a = fusionStored('base', name, dtype);
  const b = fusionStored('other', name, dtype);
  const shape = FUSION_SHAPES[name]!;
  const cols = shape[shape.length - 1]!;
  const softmax = (row: number[]) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((x, y) => x + y, 0);
    return e.map((v) => v / s + 1e-8);
  };
  const importance: number[] = [];
  for (let r = 0; r * cols < a.length; r++) {
    const p = softmax(b.slice(r * cols, (r + 1) * cols));
    const q = softmax(a.slice(r * cols, (r + 1) * cols));
    const kl = p.reduce((s, pi, i) => s + pi * Math.log(pi / q[i]!), 0);
    for (let i = 0; i < cols; i++) importance.push(Math.abs(b[r * cols + i]! - a[r * cols + i]!) * kl);
  }
  const sorted = importance.map((v) => Math.fround(v)).sort((x, y) => x - y);
  const quantile = (q: number) => sorted[Math.trunc(q * (sorted.length - 1))]!;
  const threshold = quantile(0.5) + 1.5 * (quantile(0.75) - quantile(0.25));
  let swapped = 0;
  const values = a.map((v, i) => {
    if (Math.fround(importance[i]!) < threshold) return v;
    swapped++;
    return b[i]!;
  });
  return { values, swapped };
}
