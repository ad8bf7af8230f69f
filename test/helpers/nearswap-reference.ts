/** mergekit's nearswap_merge in f64 on small stored tensors, for the CPU and WebGPU tests. */
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { runMerge, valuesCheckpoint } from './merge-harness';

/** mergekit's nearswap_merge on stored values. */
export function nearswapRef(a: readonly number[], b: readonly number[], t: number): number[] {
  return a.map((ai, i) => {
    const w = Math.min(1, Math.max(0, t / Math.max(Math.abs(ai - b[i]!), 1e-6)));
    return w * b[i]! + (1 - w) * ai;
  });
}

export const NEARSWAP_BASE = [0.5, -0.25, 1, 2, -3, 0.125, 0, 7.5e-7];
export const NEARSWAP_OTHER = [0.5004, -0.2, 1.3, -2, -2.99, 0.5, 1e-7, 0];
export const nearswapStored = (v: number[], dtype: DType) => [
  ...decodeToF32(encodeFromF32(Float32Array.from(v), dtype), dtype),
];

export async function runNearswap(t: number, dtype: DType, opts: Parameters<typeof runMerge>[2] = {}) {
  return runMerge(
    `merge_method: nearswap\nbase_model: base\nmodels: [{model: other}]\nparameters: {t: ${t}}\ndtype: float32`,
    [
      await valuesCheckpoint('base', { w: { shape: [2, 4], values: NEARSWAP_BASE } }, dtype),
      await valuesCheckpoint('other', { w: { shape: [2, 4], values: NEARSWAP_OTHER } }, dtype),
    ],
    opts,
  );
}

export function nearswapExpected(t: number, dtype: DType) {
  return nearswapRef(nearswapStored(NEARSWAP_BASE, dtype), nearswapStored(NEARSWAP_OTHER, dtype), t);
}
