/** CPU twin of shaders/magnitude-band.wgsl: keep x where lo ≤ |x| < hi, else 0 (TIES: hi = +∞). */
// x: [n]   out: [n]
export function magnitudeBand(x: Float32Array, lo: number, hi: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a >= lo && a < hi) out[i] = x[i]!;
  }
  return out;
}
