/**
 * CPU twin of shaders/matmul.wgsl: C = op(A)·op(B) (+ C₀), row-major f32 storage.
 *   A: [m, k] (transA: stored [k, m])   B: [k, n] (transB: stored [n, k])   C, C₀: [m, n]
 * Accumulates each output in f64 and rounds once to f32, so it is at least as accurate as the
 * GPU kernel (which accumulates in f32); parity tests allow for that difference.
 */
export function matmul(
  a: Float32Array, // [m, k] or [k, m]
  b: Float32Array, // [k, n] or [n, k]
  m: number,
  k: number,
  n: number,
  transA = false,
  transB = false,
  acc?: Float32Array, // [m, n]
): Float32Array {
  if (a.length < m * k) throw new Error(`matmul: A holds ${a.length} values, ${m}×${k} needs ${m * k}`);
  if (b.length < k * n) throw new Error(`matmul: B holds ${b.length} values, ${k}×${n} needs ${k * n}`);
  if (acc && acc.length < m * n) throw new Error(`matmul: C₀ holds ${acc.length} values, ${m}×${n} needs ${m * n}`);
  const out = new Float32Array(m * n);
  const row = new Float64Array(n);
  // B as [k, n] row-major (transposed once when stored [n, k]) keeps the inner loop contiguous.
  let bk = b;
  if (transB) {
    bk = new Float32Array(k * n);
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) bk[p * n + j] = b[j * k + p]!;
  }
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = transA ? a[p * m + i]! : a[i * k + p]!;
      if (aip === 0) continue;
      const off = p * n;
      for (let j = 0; j < n; j++) row[j]! += aip * bk[off + j]!;
    }
    const o = i * n;
    if (acc) for (let j = 0; j < n; j++) out[o + j] = row[j]! + acc[o + j]!;
    else for (let j = 0; j < n; j++) out[o + j] = row[j]!;
  }
  return out;
}
