/**
 * CPU twin of shaders/nearswap.wgsl: mergekit's nearswap, element by element in f32:
 * w = clamp(t / max(|a − b|, 1e-6), 0, 1); out = w·b + (1 − w)·a (a: the base, b: the other model),
 * so elements closer than t take the other model's value and farther ones move t towards it.
 */
import { defineElementwise } from './elementwise';

// base: [n]   other: [n]   out: [n]
export function nearswap(base: Float32Array, other: Float32Array, t: number): Float32Array {
  const out = new Float32Array(base.length);
  const f = Math.fround;
  const tf = f(t);
  for (let i = 0; i < base.length; i++) {
    const diff = Math.max(f(Math.abs(f(base[i]! - other[i]!))), f(1e-6));
    const w = Math.min(1, Math.max(0, f(tf / diff)));
    out[i] = f(f(w * other[i]!) + f(f(1 - w) * base[i]!));
  }
  return out;
}

export interface NearswapParams {
  readonly t: number;
}

/** nearswap as an element-wise kernel (TensorBackend.elementwise). */
export const NEARSWAP = defineElementwise({
  name: 'nearswap',
  inputs: ['base', 'other'],
  cpu: ([base, other], p: NearswapParams) => nearswap(base, other, p.t),
});
