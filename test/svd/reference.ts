/**
 * Plain-TS f64 reference implementations of the SVD merges, written straight from the formulas
 * (long-to-short.md), sharing nothing with src/core/merge/methods but the exact Jacobi SVD.
 * TSV's polar factors here come from the SVD of the concatenated factors (X = PSQᵀ → PQᵀ), not
 * from the Gram matrix as the engine computes them.
 */
import { jacobiSvd } from '../../src/core/kernels/jacobi-svd';

type M = Float64Array;

function mul(a: M, b: M, m: number, k: number, n: number): M {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return c;
}
function transpose(a: M, m: number, n: number): M {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}
const sub = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);
const axpy = (y: M, a: number, x: ArrayLike<number>) => {
  for (let i = 0; i < y.length; i++) y[i]! += a * x[i]!;
  return y;
};

/** Rank-k truncation parts: U [m,k], s [k], V [n,k]. */
export function truncSvd(A: ArrayLike<number>, m: number, n: number, k: number) {
  const r = jacobiSvd(A, m, n);
  const U = new Float64Array(m * k);
  const V = new Float64Array(n * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) U[i * k + j] = r.U[i * r.r + j]!;
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) V[i * k + j] = r.V[i * r.r + j]!;
  return { U, s: r.s.slice(0, k), V, all: r.s };
}

/** U diag(s) Vᵀ */
export function compose(U: M, s: ArrayLike<number>, V: M, m: number, n: number, k: number): M {
  const US = Float64Array.from(U, (x, idx) => x * s[idx % k]!);
  return mul(US, transpose(V, n, k), m, k, n);
}

function polar(X: M, rows: number, cols: number): M {
  const r = jacobiSvd(X, rows, cols); // X = P S Qᵀ
  const P = new Float64Array(rows * r.r);
  P.set(r.U);
  return mul(P, transpose(r.V, cols, r.r), rows, r.r, cols);
}

export function tsvRef(
  base: ArrayLike<number>,
  thetas: ArrayLike<number>[],
  ws: number[],
  m: number,
  n: number,
  k: number,
  lambda: number,
): M {
  const T = thetas.length;
  const Ucat = new Float64Array(m * T * k);
  const Vcat = new Float64Array(n * T * k);
  const sig: number[] = [];
  thetas.forEach((th, t) => {
    const f = truncSvd(sub(th, base), m, n, k);
    for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) Ucat[i * T * k + t * k + j] = f.U[i * k + j]!;
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) Vcat[i * T * k + t * k + j] = f.V[i * k + j]!;
    for (let j = 0; j < k; j++) sig.push(ws[t]! * f.s[j]!);
  });
  const D = compose(polar(Ucat, m, T * k), sig, polar(Vcat, n, T * k), m, n, T * k);
  return axpy(Float64Array.from(base), lambda, D);
}

/** Σ_t w_t (θ_t − base) / Σ w: the weighted mean task vector both Iso-C variants start from. */
function weightedMeanDelta(base: ArrayLike<number>, thetas: ArrayLike<number>[], ws: number[]): M {
  const wsum = ws.reduce((a, b) => a + b, 0);
  const mean = new Float64Array(base.length);
  thetas.forEach((th, t) => axpy(mean, ws[t]! / wsum, sub(th, base)));
  return mean;
}

export function isoCRef(
  base: ArrayLike<number>,
  thetas: ArrayLike<number>[],
  ws: number[],
  m: number,
  n: number,
  k: number,
  lambda: number,
): M {
  const mean = weightedMeanDelta(base, thetas, ws);
  const f = truncSvd(mean, m, n, k);
  const sbar = f.s.reduce((a, b) => a + b, 0) / k;
  return axpy(
    Float64Array.from(base),
    lambda,
    compose(
      f.U,
      f.s.map(() => sbar),
      f.V,
      m,
      n,
      k,
    ),
  );
}

export function twinRef(
  base: ArrayLike<number>,
  thetas: ArrayLike<number>[],
  ws: number[],
  m: number,
  n: number,
  k: number,
  lambda: number,
): M {
  const star = Float64Array.from(base);
  thetas.forEach((th, t) => axpy(star, lambda * ws[t]!, sub(th, base)));
  const wsum = ws.reduce((a, b) => a + b, 0);
  const out = Float64Array.from(star);
  thetas.forEach((th, t) => {
    const f = truncSvd(sub(th, star), m, n, k);
    axpy(out, ws[t]! / wsum, compose(f.U, f.s, f.V, m, n, k));
  });
  return out;
}

export function loreRef(
  base: ArrayLike<number> | undefined,
  thetas: ArrayLike<number>[],
  ws: number[],
  m: number,
  n: number,
  k: number,
  mu: number,
  iterations: number,
  lambda: number,
): M {
  const N = thetas.length;
  let theta0 = base
    ? Float64Array.from(base)
    : thetas.reduce((acc: M, th) => axpy(acc, 1 / N, th), new Float64Array(m * n));
  let deltas: M[] = [];
  for (let it = 0; it < iterations; it++) {
    deltas = thetas.map((th) => {
      const f = truncSvd(sub(th, theta0), m, n, k);
      const tau = mu * f.all[0]!;
      return compose(
        f.U,
        f.s.map((s) => Math.max(s - tau, 0)),
        f.V,
        m,
        n,
        k,
      );
    });
    const next = new Float64Array(m * n);
    thetas.forEach((th, i) => axpy(axpy(next, 1 / N, th), -1 / N, deltas[i]!));
    theta0 = next;
  }
  const out = Float64Array.from(theta0);
  deltas.forEach((d, i) => axpy(out, lambda * ws[i]!, d));
  return out;
}

export function lowRankRef(
  base: ArrayLike<number>,
  thetas: ArrayLike<number>[],
  ws: number[],
  m: number,
  n: number,
  rank: (s: Float64Array) => number,
  lambda: number,
): M {
  const out = Float64Array.from(base);
  thetas.forEach((th, t) => {
    const f = truncSvd(sub(th, base), m, n, Math.min(m, n));
    const r = rank(f.all);
    axpy(
      out,
      lambda * ws[t]!,
      compose(
        f.U,
        f.s.map((s, i) => (i < r ? s : 0)),
        f.V,
        m,
        n,
        Math.min(m, n),
      ),
    );
  });
  return out;
}

export function isoCtsRef(
  base: ArrayLike<number>,
  thetas: ArrayLike<number>[],
  ws: number[],
  m: number,
  n: number,
  k: number,
  commonFraction: number,
  lambda: number,
): M {
  const mean = weightedMeanDelta(base, thetas, ws);
  const kc = Math.max(1, Math.min(k, Math.round(commonFraction * k)));
  const s = Math.floor((k - kc) / thetas.length);
  const fc = truncSvd(mean, m, n, kc);
  const Us: [M, number][] = [[fc.U, kc]];
  const Vs: [M, number][] = [[fc.V, kc]];
  const sig = [...fc.s];
  if (s > 0)
    for (const th of thetas) {
      const d = sub(th, base);
      const proj = mul(fc.U, mul(transpose(fc.U, m, kc), d, kc, m, n), m, kc, n);
      const f = truncSvd(sub(d, proj), m, n, s);
      Us.push([f.U, s]);
      Vs.push([f.V, s]);
      sig.push(...f.s);
    }
  const K = sig.length;
  const cat = (blocks: [M, number][], rows: number) => {
    const X = new Float64Array(rows * K);
    let off = 0;
    for (const [B, w] of blocks) {
      for (let i = 0; i < rows; i++) for (let j = 0; j < w; j++) X[i * K + off + j] = B[i * w + j]!;
      off += w;
    }
    return X;
  };
  const sbar = sig.reduce((a, b) => a + b, 0) / K;
  const D = mul(polar(cat(Us, m), m, K), transpose(polar(cat(Vs, n), n, K), n, K), m, K, n);
  return axpy(Float64Array.from(base), lambda * sbar, D);
}
