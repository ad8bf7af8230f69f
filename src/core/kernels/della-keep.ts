/**
 * DELLA's MagPrune keep probabilities (mergekit's della_magprune), on the CPU: a sort, not an
 * element-wise kernel. Within each row of `cols` elements (a 1-D tensor is one row), the element of
 * magnitude rank r (0 = smallest |x|; ties lowest index first, NaN largest) is kept with
 * probability p = (density − ε) + 2ε · r / (cols − 1), quantised to 2^-24 as DARE's density is; the
 * result feeds the hashed Bernoulli mask (bernoulli-mask.ts), which makes the draws.
 */

/** 2^24: the probability unit of the hashed masks (randomU32 >>> 8). */
const ONE = 16777216;

/** p in units of 2^-24, clamped to [0, 1]. */
export function keepUnits(p: number): number {
  return Math.round(Math.min(1, Math.max(0, p)) * ONE);
}

// rows: [rowCount · cols] (whole rows)   out: [rowCount · cols], integers 0 … 2^24
export function dellaKeep(rows: Float32Array, cols: number, density: number, epsilon: number): Float32Array {
  const out = new Float32Array(rows.length);
  const order = new Uint32Array(cols);
  const abs = new Float64Array(cols);
  const key = (v: number) => (Number.isNaN(v) ? Infinity : Math.abs(v));
  for (let start = 0; start < rows.length; start += cols) {
    const n = Math.min(cols, rows.length - start);
    for (let i = 0; i < n; i++) {
      order[i] = i;
      abs[i] = key(rows[start + i]!);
    }
    const ranked = order.subarray(0, n).sort((a, b) => abs[a]! - abs[b]! || a - b);
    for (let r = 0; r < n; r++) {
      const norm = n > 1 ? r / (n - 1) : 0;
      out[start + ranked[r]!] = keepUnits(density - epsilon + 2 * epsilon * norm);
    }
  }
  return out;
}
