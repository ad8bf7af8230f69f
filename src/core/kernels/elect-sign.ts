/** CPU twin of shaders/elect-sign.wgsl: TIES sign election, γ = sign(Σ_t x_t) with 0 counted as +. */
// xs: K × [n] (weighted task vectors)   out: [n] of ±1
export function electSign(xs: readonly Float32Array[]): Float32Array {
  const n = xs[0]?.length ?? 0;
  const out = new Float32Array(n);
  const f = Math.fround;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const x of xs) s = f(s + x[i]!);
    out[i] = s >= 0 ? 1 : -1;
  }
  return out;
}
