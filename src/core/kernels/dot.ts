/** CPU twin of shaders/dot.wgsl: Σ a_i b_i. f32 products, per-block f32 partials summed in f64. */
// a: [n]   b: [n]
export const DOT_BLOCK = 256;
export function dot(a: Float32Array, b: Float32Array): number {
  const f = Math.fround;
  let total = 0;
  for (let s = 0; s < a.length; s += DOT_BLOCK) {
    let part = 0;
    const e = Math.min(a.length, s + DOT_BLOCK);
    for (let i = s; i < e; i++) part = f(part + f(a[i]! * b[i]!));
    total += part;
  }
  return total;
}
