/**
 * The one matrix kernel of the CPU backward pass: all dot products between the rows of two
 * row-major matrices, blocked 2 × 4 so that each load feeds several multiply-adds. Every product
 * of the pass (forward, input gradient, weight gradient, head) is written as rowDots on suitably
 * transposed operands, as a WGSL port would tile it.
 */
export type Mat = Float64Array;
/** Weights stay f32 (their decoded values are exact); activations and gradients are f64. */
export type Vec = Float32Array | Float64Array;

/** out[r, c] = Σ_i a[r, i]·b[c, i] for a [aRows, dim] and b [bRows, dim]: a [aRows, bRows] result. */
export function rowDots(a: Vec, aRows: number, b: Vec, bRows: number, dim: number): Float64Array {
  const out = new Float64Array(aRows * bRows);
  let r = 0;
  for (; r + 1 < aRows; r += 2) {
    const a0 = r * dim;
    const a1 = a0 + dim;
    let c = 0;
    for (; c + 3 < bRows; c += 4) {
      const b0 = c * dim;
      const b1 = b0 + dim;
      const b2 = b1 + dim;
      const b3 = b2 + dim;
      let s00 = 0;
      let s01 = 0;
      let s02 = 0;
      let s03 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      for (let i = 0; i < dim; i++) {
        const x0 = a[a0 + i]!;
        const x1 = a[a1 + i]!;
        const y0 = b[b0 + i]!;
        const y1 = b[b1 + i]!;
        const y2 = b[b2 + i]!;
        const y3 = b[b3 + i]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
      }
      const o0 = r * bRows + c;
      const o1 = o0 + bRows;
      out[o0] = s00;
      out[o0 + 1] = s01;
      out[o0 + 2] = s02;
      out[o0 + 3] = s03;
      out[o1] = s10;
      out[o1 + 1] = s11;
      out[o1 + 2] = s12;
      out[o1 + 3] = s13;
    }
    for (; c < bRows; c++) {
      const b0 = c * dim;
      let s0 = 0;
      let s1 = 0;
      for (let i = 0; i < dim; i++) {
        const y = b[b0 + i]!;
        s0 += a[a0 + i]! * y;
        s1 += a[a1 + i]! * y;
      }
      out[r * bRows + c] = s0;
      out[(r + 1) * bRows + c] = s1;
    }
  }
  for (; r < aRows; r++)
    for (let c = 0; c < bRows; c++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += a[r * dim + i]! * b[c * dim + i]!;
      out[r * bRows + c] = s;
    }
  return out;
}

/** The [cols, rows] transpose of a [rows, cols] matrix, in f64. */
export function transpose(x: Vec, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}
