/**
 * CPU twin of shaders/abs-histogram.wgsl: one pass of a radix select over |x|.
 * |x| as f32 bits (sign cleared) orders like an unsigned integer, so selection on bits is exact.
 * Counts elements whose bits match `prefix` above `prefixShift`, bucketed by the `width` bits at `shift`.
 * NaNs are never counted.
 */
// x: [n]   counts: [2^width] (accumulated into)
export interface HistogramPass {
  readonly prefix: number;
  readonly prefixShift: number; // 31 means "no prefix" (bit 31 of |x| is always 0)
  readonly shift: number;
  readonly width: number;
}

export function absHistogram(x: Float32Array, pass: HistogramPass, counts: Uint32Array): void {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const mask = (1 << pass.width) - 1;
  for (let i = 0; i < bits.length; i++) {
    const a = bits[i]! & 0x7fffffff;
    if (a > 0x7f800000) continue;
    if (a >>> pass.prefixShift !== pass.prefix) continue;
    counts[(a >>> pass.shift) & mask]!++;
  }
}
