/**
 * CPU twin of shaders/disjoint-mean.wgsl: the TIES disjoint merge. Sums the weighted task vectors
 * whose sign agrees with the elected sign (zeros never agree); with `normalize`, divides by the
 * sum of the agreeing models' weights (1 where none agree).
 */
// xs: K × [n] weighted task vectors   ws: [K]   sign: [n] of ±1   out: [n]
export function disjointMean(
  xs: readonly Float32Array[],
  ws: readonly number[],
  sign: Float32Array,
  normalize: boolean,
): Float32Array {
  const n = sign.length;
  const out = new Float32Array(n);
  const f = Math.fround;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let div = 0;
    for (let t = 0; t < xs.length; t++) {
      const v = xs[t]![i]!;
      if ((v > 0 && sign[i]! > 0) || (v < 0 && sign[i]! < 0)) {
        sum = f(sum + v);
        div = f(div + f(ws[t]!));
      }
    }
    out[i] = normalize ? f(sum / (div === 0 ? 1 : div)) : sum;
  }
  return out;
}
