/**
 * CPU twin of shaders/squared-deviation.wgsl: acc + (x − mean)², element by element, in f32; summed
 * over the models it is T times the population variance across them (SCE's selection key).
 */
import { defineElementwise } from './elementwise';

// x: [n]   mean: [n]   acc: [n]   out: [n]
export function squaredDeviation(x: Float32Array, mean: Float32Array, acc: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  const f = Math.fround;
  for (let i = 0; i < x.length; i++) {
    const d = f(x[i]! - mean[i]!);
    out[i] = f(acc[i]! + f(d * d));
  }
  return out;
}

/** acc + (x − mean)² as an element-wise kernel (TensorBackend.elementwise). */
export const SQUARED_DEVIATION = defineElementwise({
  name: 'squared-deviation',
  inputs: ['x', 'mean', 'acc'],
  cpu: ([x, mean, acc]) => squaredDeviation(x, mean, acc),
});
