/** Test matrices with known spectra, and the f64 error measures the SVD tests use. */
import { gaussian } from '../../src/core/linalg/random';

/** [rows, cols] with orthonormal columns: modified Gram–Schmidt (twice) on a Gaussian matrix, f64. */
export function randomOrthonormal(rows: number, cols: number, seed: number): Float64Array {
  const g = gaussian(rows * cols, seed, 7);
  const Q = Float64Array.from(g);
  for (let j = 0; j < cols; j++)
    for (let pass = 0; pass < 2; pass++) {
      for (let c = 0; c < j; c++) {
        let d = 0;
        for (let i = 0; i < rows; i++) d += Q[i * cols + c]! * Q[i * cols + j]!;
        for (let i = 0; i < rows; i++) Q[i * cols + j]! -= d * Q[i * cols + c]!;
      }
      let nrm = 0;
      for (let i = 0; i < rows; i++) nrm += Q[i * cols + j]! ** 2;
      nrm = Math.sqrt(nrm);
      for (let i = 0; i < rows; i++) Q[i * cols + j]! /= nrm;
    }
  return Q;
}

/** A = U diag(sigma) Vᵀ rounded to f32: [m, n], with sigma.length ≤ min(m, n) nonzero values. */
export function withSpectrum(m: number, n: number, sigma: readonly number[], seed: number): Float32Array {
  const r = sigma.length;
  const U = randomOrthonormal(m, r, seed);
  const V = randomOrthonormal(n, r, seed + 1000);
  const A = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < r; p++) {
      const u = U[i * r + p]! * sigma[p]!;
      for (let j = 0; j < n; j++) row[j]! += u * V[j * r + p]!;
    }
    A.set(row, i * n);
  }
  return A;
}

/** ‖A − U diag(s) Vᵀ‖_F in f64.  U: [m, k], V: [n, k]. */
export function residual(
  A: ArrayLike<number>,
  U: ArrayLike<number>,
  s: ArrayLike<number>,
  V: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
): number {
  let sum = 0;
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) row[j] = A[i * n + j]!;
    for (let p = 0; p < k; p++) {
      const u = U[i * k + p]! * s[p]!;
      if (u === 0) continue;
      for (let j = 0; j < n; j++) row[j]! -= u * V[j * k + p]!;
    }
    for (let j = 0; j < n; j++) sum += row[j]! * row[j]!;
  }
  return Math.sqrt(sum);
}

/** ‖XᵀX − I‖∞ (largest absolute row sum), X: [rows, k], in f64. */
export function orthogonalityError(X: ArrayLike<number>, rows: number, k: number): number {
  let worst = 0;
  for (let a = 0; a < k; a++) {
    let rowSum = 0;
    for (let b = 0; b < k; b++) {
      let d = 0;
      for (let i = 0; i < rows; i++) d += X[i * k + a]! * X[i * k + b]!;
      rowSum += Math.abs(d - (a === b ? 1 : 0));
    }
    worst = Math.max(worst, rowSum);
  }
  return worst;
}

export function frobenius(A: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < A.length; i++) s += A[i]! * A[i]!;
  return Math.sqrt(s);
}

export interface SpectrumCase {
  name: string;
  m: number;
  n: number;
  k: number;
  sigma: number[];
}

/** The four spectrum shapes of issue 8. */
export const CASES: SpectrumCase[] = [
  { name: 'flat', m: 96, n: 72, k: 10, sigma: Array.from({ length: 72 }, () => 1) },
  { name: 'decaying (0.85^i)', m: 120, n: 80, k: 12, sigma: Array.from({ length: 80 }, (_, i) => 0.85 ** i) },
  { name: 'decaying (1/(1+i), wide)', m: 64, n: 150, k: 8, sigma: Array.from({ length: 64 }, (_, i) => 1 / (1 + i)) },
  {
    name: 'exactly low-rank (rank 10, k = 10)',
    m: 100,
    n: 60,
    k: 10,
    sigma: Array.from({ length: 10 }, (_, i) => 10 - i),
  },
  { name: 'rank-deficient (rank 6 < k = 12)', m: 80, n: 70, k: 12, sigma: [5, 4, 3, 2, 1, 0.5] },
];
