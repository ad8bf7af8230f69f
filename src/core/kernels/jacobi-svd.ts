/**
 * One-sided (Hestenes) Jacobi SVD in f64: the exact reference SVD, and the small (k+p)-sized SVD
 * at the heart of the randomized SVD. Rotates pairs of columns until every pair is orthogonal
 * to working precision; singular values come out to high relative accuracy.
 *
 *   A: [m, n] row-major   →   U: [m, r] row-major, s: [r] descending, V: [n, r] row-major,
 *   r = min(m, n), A = U·diag(s)·Vᵀ. U and V have orthonormal columns, also where s_i = 0
 *   (those columns of U are completed to an orthonormal set).
 * Cost: about 6·m·n² flops per sweep, 6–12 sweeps: meant for matrices up to a few hundred wide.
 */
export interface SvdF64 {
  readonly m: number;
  readonly n: number;
  readonly r: number;
  readonly U: Float64Array; // [m, r]
  readonly s: Float64Array; // [r]
  readonly V: Float64Array; // [n, r]
  readonly sweeps: number;
}

const EPS = 2.220446049250313e-16;

export function jacobiSvd(a: ArrayLike<number>, m: number, n: number, maxSweeps = 80): SvdF64 {
  if (a.length < m * n) throw new Error(`jacobiSvd: ${a.length} values for ${m}×${n}`);
  if (m < n) {
    // SVD of Aᵀ, then swap the factors.
    const t = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
    const r = jacobiSvd(t, n, m, maxSweeps);
    return { m, n, r: r.r, U: r.V, s: r.s, V: r.U, sweeps: r.sweeps };
  }
  // m ≥ n: W holds the n columns of A contiguously (column-major), Vc the rotations.
  const W = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) W[j * m + i] = a[i * n + j]!;
  const Vc = new Float64Array(n * n);
  for (let j = 0; j < n; j++) Vc[j * n + j] = 1;
  const norm2 = new Float64Array(n);
  const tol = EPS * Math.max(8, Math.sqrt(m));
  let sweeps = 0;
  for (; sweeps < maxSweeps; sweeps++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      const o = j * m;
      for (let i = 0; i < m; i++) s += W[o + i]! * W[o + i]!;
      norm2[j] = s;
    }
    let rotated = 0;
    for (let p = 0; p < n - 1; p++) {
      const op = p * m;
      for (let q = p + 1; q < n; q++) {
        const alpha = norm2[p]!;
        const beta = norm2[q]!;
        if (alpha === 0 || beta === 0) continue;
        const oq = q * m;
        let gamma = 0;
        for (let i = 0; i < m; i++) gamma += W[op + i]! * W[oq + i]!;
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated++;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const wp = W[op + i]!;
          const wq = W[oq + i]!;
          W[op + i] = c * wp - s * wq;
          W[oq + i] = s * wp + c * wq;
        }
        const vp = p * n;
        const vq = q * n;
        for (let i = 0; i < n; i++) {
          const xp = Vc[vp + i]!;
          const xq = Vc[vq + i]!;
          Vc[vp + i] = c * xp - s * xq;
          Vc[vq + i] = s * xp + c * xq;
        }
        norm2[p] = alpha - t * gamma;
        norm2[q] = beta + t * gamma;
      }
    }
    if (rotated === 0) break;
  }
  const sig = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    const o = j * m;
    for (let i = 0; i < m; i++) s += W[o + i]! * W[o + i]!;
    sig[j] = Math.sqrt(s);
  }
  const order = [...sig.keys()].sort((x, y) => sig[y]! - sig[x]!);
  const U = new Float64Array(m * n);
  const V = new Float64Array(n * n);
  const s = new Float64Array(n);
  const smax = sig[order[0]!] ?? 0;
  const nulls: number[] = [];
  order.forEach((src, j) => {
    s[j] = sig[src]!;
    for (let i = 0; i < n; i++) V[i * n + j] = Vc[src * n + i]!;
    if (s[j]! <= smax * 1e-15 || s[j] === 0) {
      s[j] = 0;
      nulls.push(j);
      return;
    }
    const inv = 1 / s[j]!;
    for (let i = 0; i < m; i++) U[i * n + j] = W[src * m + i]! * inv;
  });
  if (nulls.length) completeColumns(U, m, n, nulls);
  return { m, n, r: n, U, s, V, sweeps };
}

/**
 * Fills the listed (zero) columns of Q: [m, r] so that all r columns are orthonormal:
 * unit vectors, orthogonalised twice (modified Gram–Schmidt) against the columns already set.
 */
export function completeColumns(Q: Float64Array, m: number, r: number, missing: readonly number[]): void {
  const have = new Set<number>([...Array(r).keys()].filter((j) => !missing.includes(j)));
  let e = 0;
  const v = new Float64Array(m);
  for (const j of missing) {
    for (; e < m; e++) {
      v.fill(0);
      v[e] = 1;
      for (let pass = 0; pass < 2; pass++)
        for (const c of have) {
          let d = 0;
          for (let i = 0; i < m; i++) d += Q[i * r + c]! * v[i]!;
          for (let i = 0; i < m; i++) v[i]! -= d * Q[i * r + c]!;
        }
      let nv = 0;
      for (let i = 0; i < m; i++) nv += v[i]! * v[i]!;
      if (nv > 0.25) {
        const inv = 1 / Math.sqrt(nv);
        for (let i = 0; i < m; i++) Q[i * r + j] = v[i]! * inv;
        have.add(j);
        e++;
        break;
      }
    }
  }
}

/**
 * Symmetric eigendecomposition G = W·diag(λ)·Wᵀ (λ descending) through the Jacobi SVD of G.
 *   G: [n, n] row-major, symmetric  →  λ: [n], W: [n, n] row-major, orthonormal columns.
 * λ_i is the Rayleigh quotient w_iᵀ G w_i, so it keeps its sign when G is indefinite.
 */
export function symmetricEigen(g: ArrayLike<number>, n: number): { lambda: Float64Array; W: Float64Array } {
  const { V } = jacobiSvd(g, n, n);
  const lam = new Float64Array(n);
  const gw = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    gw.fill(0);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += g[i * n + p]! * V[p * n + j]!;
      gw[i] = s;
    }
    let q = 0;
    for (let i = 0; i < n; i++) q += V[i * n + j]! * gw[i]!;
    lam[j] = q;
  }
  const order = [...lam.keys()].sort((x, y) => lam[y]! - lam[x]!);
  const W = new Float64Array(n * n);
  const lambda = new Float64Array(n);
  order.forEach((src, j) => {
    lambda[j] = lam[src]!;
    for (let i = 0; i < n; i++) W[i * n + j] = V[i * n + src]!;
  });
  return { lambda, W };
}
