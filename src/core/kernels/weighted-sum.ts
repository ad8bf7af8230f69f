/** CPU twin of shaders/weighted-sum.wgsl: out[i] = Σ_t w_t · x_t[i], accumulated in f32 in input order. */
// xs: K × [n]   ws: [K]   out: [n]
export function weightedSum(xs: readonly Float32Array[], ws: readonly number[]): Float32Array {
  const n = xs[0]?.length ?? 0;
  const out = new Float32Array(n);
  const f = Math.fround;
  for (let t = 0; t < xs.length; t++) {
    const x = xs[t]!;
    const w = f(ws[t]!);
    if (t === 0) for (let i = 0; i < n; i++) out[i] = f(w * x[i]!);
    else for (let i = 0; i < n; i++) out[i] = f(out[i]! + f(w * x[i]!));
  }
  return out;
}
