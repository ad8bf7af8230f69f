/**
 * CPU twins of shaders/ram-accumulate.wgsl and shaders/ram-final.wgsl: RAM's per-element merge
 * (mergekit's ram / ramplus_tl). Over the task vectors δ_t, an element counts for model t when
 * |δ_t| > ε; `ram-accumulate` sums, per element, w·δ_t (or w, with `count`) over the models that
 * count; `ram-final` takes the one contributor's λ-weighted value where one model counts and the
 * plain mean of the contributors where several do (0 where none).
 */
import { defineElementwise } from './elementwise';

export interface RamAccumulateParams {
  readonly epsilon: number;
  readonly w: number;
  /** Add w instead of w·δ (the contributor count). */
  readonly count: boolean;
}

// x: [n]   acc: [n]   out: [n]
export function ramAccumulate(x: Float32Array, acc: Float32Array, p: RamAccumulateParams): Float32Array {
  const out = new Float32Array(x.length);
  const f = Math.fround;
  const [eps, w] = [f(p.epsilon), f(p.w)];
  for (let i = 0; i < x.length; i++) {
    const add = Math.abs(x[i]!) > eps ? (p.count ? w : f(w * x[i]!)) : 0;
    out[i] = f(acc[i]! + add);
  }
  return out;
}

// sum: [n] Σ δ   weighted: [n] Σ λ δ   count: [n]   out: [n]
export function ramFinal(sum: Float32Array, weighted: Float32Array, count: Float32Array): Float32Array {
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++)
    out[i] = count[i] === 1 ? weighted[i]! : count[i]! > 1 ? Math.fround(sum[i]! / count[i]!) : 0;
  return out;
}

export const RAM_ACCUMULATE = defineElementwise({
  name: 'ram-accumulate',
  inputs: ['x', 'acc'],
  cpu: ([x, acc], p: RamAccumulateParams) => ramAccumulate(x, acc, p),
});

export const RAM_FINAL = defineElementwise({
  name: 'ram-final',
  inputs: ['sum', 'weighted', 'count'],
  cpu: ([sum, weighted, count]) => ramFinal(sum, weighted, count),
});
