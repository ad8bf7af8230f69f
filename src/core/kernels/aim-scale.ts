/**
 * CPU twin of shaders/aim-scale.wgsl. AIM (activation-informed merging) shrinks the merged task
 * vector on input channels that carry large activations in the base model:
 *   θ = θ₀ + (θ_merged − θ₀) ⊙ (1 − (1−ω)·s_j),   j = input column of a [out, in] weight.
 */
import { defineElementwise } from './elementwise';

// base, merged: [n] (elements offset … offset+n−1 of a row-major [out, cols] weight)
// scale: [cols] normalised activations s_j ∈ [0, 1]   out: [n]
export function aimScale(
  base: Float32Array,
  merged: Float32Array,
  scale: Float32Array,
  omega: number,
  offset: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(base.length);
  const f = Math.fround;
  const k = f(1 - omega);
  for (let i = 0; i < base.length; i++) {
    const s = scale[(offset + i) % cols]!;
    out[i] = f(base[i]! + f(f(merged[i]! - base[i]!) * f(1 - f(k * s))));
  }
  return out;
}

/** The AIM post-step's parameters: ω, and where the chunk starts in a weight of `cols` columns. */
export interface AimScaleParams {
  readonly omega: number;
  readonly offset: number;
  readonly cols: number;
}

/** The AIM post-step as an element-wise kernel: inputs base, merged; side scale [cols]. */
export const AIM_SCALE = defineElementwise({
  name: 'aim-scale',
  inputs: ['base', 'merged'],
  sides: ['scale'],
  cpu: ([base, merged, scale], p: AimScaleParams) => aimScale(base, merged, scale, p.omega, p.offset, p.cols),
  sideLengths: (p) => [p.cols],
});
