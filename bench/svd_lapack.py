#!/usr/bin/python3
"""LAPACK side of `npm run bench:svd` (Debian's python3-numpy through /usr/bin/python3).

  svd_lapack.py gen  A.f32 M N SEED          writes a test matrix with a known-shape spectrum
  svd_lapack.py eval A.f32 M N K U.f32 s.f64 V.f32 [REPEAT]   full LAPACK SVD (np.linalg.svd,
                    sgesdd on the f32 matrix) timed (best of REPEAT), and both rank-K errors;
                    prints one JSON line
The test matrix: A = U diag(d) Vᵀ + noise, d_i = (1 + i/8)^-1.5 for i < 512 (a slowly decaying
spectrum like a fine-tuning task vector's), U, V orthonormal (QR of Gaussians), plus a Gaussian
noise floor with spectral norm ~2e-3.
"""
import json
import sys
import time

import numpy as np


def gen(path, m, n, seed):
    rng = np.random.default_rng(seed)
    r = min(512, m, n)
    U, _ = np.linalg.qr(rng.standard_normal((m, r)))
    V, _ = np.linalg.qr(rng.standard_normal((n, r)))
    d = (1.0 + np.arange(r) / 8.0) ** -1.5
    A = (U * d) @ V.T + rng.standard_normal((m, n)) * (2e-3 / (np.sqrt(m) + np.sqrt(n)))
    A.astype(np.float32).tofile(path)


def evaluate(path, m, n, k, upath, spath, vpath, repeat=1):
    A = np.fromfile(path, dtype=np.float32).reshape(m, n)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        _, s, _ = np.linalg.svd(A, full_matrices=False)
        times.append(time.perf_counter() - t)
    lapack_s = min(times)
    exact_err = float(np.sqrt(np.sum(s[k:].astype(np.float64) ** 2)))
    U = np.fromfile(upath, dtype=np.float32).reshape(m, k).astype(np.float64)
    sk = np.fromfile(spath, dtype=np.float64)
    V = np.fromfile(vpath, dtype=np.float32).reshape(n, k).astype(np.float64)
    rand_err = float(np.linalg.norm(A.astype(np.float64) - (U * sk) @ V.T))
    sv_rel = float(np.max(np.abs(sk - s[:k]) / s[:k]))
    print(json.dumps({
        "lapack_s": lapack_s, "exact_err": exact_err, "rand_err": rand_err, "sv_max_rel_err": sv_rel,
        "orth_u": float(np.max(np.sum(np.abs(U.T @ U - np.eye(k)), axis=1))),
        "orth_v": float(np.max(np.sum(np.abs(V.T @ V - np.eye(k)), axis=1))),
        "numpy": np.__version__,
    }))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        evaluate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7], sys.argv[8],
                 int(sys.argv[9]) if len(sys.argv) > 9 else 1)
