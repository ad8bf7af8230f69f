/**
 * The fast CPU backend's kernels: the same f32 arithmetic, in the same order, as the reference
 * twins in src/core/kernels (weighted-sum.ts, elect-sign.ts, disjoint-mean.ts, delta.ts), so the
 * results are bit-identical; but one pass over the elements with index loops (no iterators, no
 * per-input passes over the output) and written into a buffer the caller supplies.
 */
const f = Math.fround;

/** out[i] = Σ_t f32(w_t · x_t[i]), summed in input order (weightedSum). */
export function weightedSumInto(xs: readonly Float32Array[], ws: readonly number[], out: Float32Array): void {
  const n = out.length;
  const w = ws.map((v) => f(v));
  if (xs.length === 0) return void out.fill(0);
  const [a, b, c] = xs as [Float32Array, Float32Array?, Float32Array?];
  const [wa, wb, wc] = w as [number, number, number];
  if (xs.length === 1) for (let i = 0; i < n; i++) out[i] = f(wa * a[i]!);
  else if (xs.length === 2) for (let i = 0; i < n; i++) out[i] = f(f(wa * a[i]!) + f(wb * b![i]!));
  else if (xs.length === 3) for (let i = 0; i < n; i++) out[i] = f(f(f(wa * a[i]!) + f(wb * b![i]!)) + f(wc * c![i]!));
  else {
    for (let i = 0; i < n; i++) out[i] = f(wa * a[i]!);
    for (let t = 1; t < xs.length; t++) {
      const x = xs[t]!;
      const wt = w[t]!;
      for (let i = 0; i < n; i++) out[i] = f(out[i]! + f(wt * x[i]!));
    }
  }
}

/** out = model − base (delta). */
export function deltaInto(model: Float32Array, base: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = model[i]! - base[i]!;
}

/** TIES sign election: γ = sign(Σ_t x_t), 0 counted as + (electSign). */
export function electSignInto(xs: readonly Float32Array[], out: Float32Array): void {
  const n = out.length;
  if (xs.length === 2) {
    const [a, b] = xs as [Float32Array, Float32Array];
    for (let i = 0; i < n; i++) out[i] = f(f(0 + a[i]!) + b[i]!) >= 0 ? 1 : -1;
    return;
  }
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < xs.length; t++) s = f(s + xs[t]![i]!);
    out[i] = s >= 0 ? 1 : -1;
  }
}

/** TIES disjoint merge: the sum of the inputs agreeing with the elected sign, optionally ÷ their weights (disjointMean). */
export function disjointMeanInto(
  xs: readonly Float32Array[],
  ws: readonly number[],
  sign: Float32Array,
  normalize: boolean,
  out: Float32Array,
): void {
  const w = ws.map((v) => f(v));
  const k = xs.length;
  for (let i = 0; i < out.length; i++) {
    const s = sign[i]!;
    let sum = 0;
    let div = 0;
    for (let t = 0; t < k; t++) {
      const v = xs[t]![i]!;
      if ((v > 0 && s > 0) || (v < 0 && s < 0)) {
        sum = f(sum + v);
        div = f(div + w[t]!);
      }
    }
    out[i] = normalize ? f(sum / (div === 0 ? 1 : div)) : sum;
  }
}
