/**
 * CPU twin of shaders/keep-where.wgsl: x where key ≠ 0, else 0 (SCE applies the top-variance
 * selection, a magnitude band of the variance, to every task vector). Kept values are copied bit
 * for bit; a NaN key keeps.
 */
import { defineElementwise } from './elementwise';

// x: [n]   key: [n]   out: [n]
export function keepWhere(x: Float32Array, key: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) if (key[i] !== 0) out[i] = x[i]!;
  return out;
}

/** x masked by key ≠ 0 as an element-wise kernel (TensorBackend.elementwise). */
export const KEEP_WHERE = defineElementwise({
  name: 'keep-where',
  inputs: ['x', 'key'],
  cpu: ([x, key]) => keepWhere(x, key),
});
