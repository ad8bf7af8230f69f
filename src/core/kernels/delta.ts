/** CPU twin of shaders/delta.wgsl: the task vector δ = θ_t − θ₀. */
import { defineElementwise } from './elementwise';

// model: [n]   base: [n]   out: [n]
export function delta(model: Float32Array, base: Float32Array): Float32Array {
  const out = new Float32Array(model.length);
  for (let i = 0; i < model.length; i++) out[i] = model[i]! - base[i]!;
  return out;
}

/** δ = model − base as an element-wise kernel (TensorBackend.elementwise). */
export const DELTA = defineElementwise({
  name: 'delta',
  inputs: ['model', 'base'],
  cpu: ([model, base]) => delta(model, base),
});
