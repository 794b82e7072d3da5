"""The estimator of ``ssc-omp`` (declared in ``methods/ssc_omp.py``): Sparse Subspace
Clustering by Orthogonal Matching Pursuit (You, Robinson & Vidal, CVPR 2016).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import ThreadpoolController

from benchmark.registry import load_module
from benchmark.selfexpressive import SelfExpressiveClustering
from benchmark.spectral import symmetric_affinity

# The block size, declared in methods/ssc_omp.py with the memory estimate.
POINT_BLOCK: int = load_module(Path(__file__).resolve().parents[1] / "ssc_omp.py").POINT_BLOCK

DTYPES = {"float32": np.float32, "float64": np.float64}


class SSCOMP(SelfExpressiveClustering):
    """SSC-OMP: each point written by orthogonal matching pursuit over the other points.

    You, Robinson & Vidal, "Scalable Sparse Subspace Clustering by Orthogonal Matching
    Pursuit", CVPR 2016, OMP(X_{−j}, x_j) for every point: with r₀ = x_j, S₀ = ∅,

        i* = argmax_{i ≠ j, i ∉ S_k} |x_iᵀ r_k|,   S_{k+1} = S_k ∪ {i*},
        r_{k+1} = (I − P_{S_{k+1}}) x_j   (P: orthogonal projector onto span X_S),

    until ‖r_k‖₂ ≤ ε‖x_j‖₂ or k = k_max; c_j solves the least squares problem on S_k
    (the paper's ``c_j = argmin ‖x_j − X_S c‖₂``). The paper states ‖r‖ ≤ ε for
    unit-norm points; the relative form is the same there (the reference code's
    ``‖r‖² < thr·‖x‖`` with thr = 1e-6 is ε = 1e-3 on unit-norm points). With
    ``normalize_points`` (the default, as the paper's analysis and the authors' MATLAB
    demos have it) every point is scaled to unit ℓ2 norm first; OMP's atom choice by
    |x_iᵀr| otherwise favours points of large norm.

    Vectorised over points: a block of points advances one OMP step at a time, with
    all residual correlations from one (block×D)·(D×n) product in ``dtype`` and the
    projections kept as batched Gram–Schmidt (QR) updates in float64; the coefficients
    come from the final triangular factor (c = R⁻¹Qᵀx_j).

    Affinity as in the reference code: each point's coefficient vector scaled to unit
    ℓ2 norm, then W = ½(|C| + |C|ᵀ). Sets ``n_iter_`` (largest support size) and
    ``converged_`` (every point reached ‖r‖ ≤ ε‖x‖ within k_max atoms).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        kmax: int = 10,
        eps: float = 1e-3,
        dtype: str = "float32",
        normalize_points: bool = True,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.kmax = kmax
        self.eps = eps
        self.dtype = dtype
        self.random_state = random_state
        self.normalize_points = normalize_points

    def _check_params(self) -> None:
        if not isinstance(self.kmax, int | np.integer) or self.kmax < 1:
            raise ValueError(f"kmax must be a positive integer, got {self.kmax!r}")
        if not self.eps >= 0:
            raise ValueError(f"eps must be >= 0 (relative residual threshold), got {self.eps!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def _self_expression(self, X: np.ndarray) -> sp.csc_matrix:
        self._check_params()
        Ct, support_sizes, reached = batched_omp(
            np.asarray(X, dtype=np.float64), self.kmax, self.eps, DTYPES[self.dtype]
        )
        self.n_iter_ = int(support_sizes.max(initial=0))
        self.converged_ = bool(reached.all())
        return Ct.T.tocsc()

    def _affinity(self, coef: sp.spmatrix) -> sp.csr_matrix:
        # each point's representation (column of C, row of Cᵀ) to unit ℓ2 norm
        return symmetric_affinity(normalize(sp.csr_matrix(coef.T), norm="l2").T)


def batched_omp(
    X: np.ndarray, kmax: int, eps: float, dtype: type = np.float32, block: int = POINT_BLOCK
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """OMP of every row of X (n×D, float64) on the other rows.

    Returns Cᵀ (row j holds the coefficients of point j), the support sizes and whether
    each point's residual fell to ε‖x_j‖.
    """
    n, D = X.shape
    kmax = min(kmax, n - 1)
    Xc = np.ascontiguousarray(X, dtype=dtype)
    rows, cols, vals = [], [], []
    support_sizes = np.zeros(n, dtype=np.int64)
    reached = np.zeros(n, dtype=bool)
    blas = ThreadpoolController()
    for j0 in range(0, n, block):
        points = np.arange(j0, min(n, j0 + block))
        support, coef, size, done = _omp_block(X, Xc, points, kmax, eps, blas)
        for b, j in enumerate(points):
            rows.append(np.full(size[b], j))
            cols.append(support[b, : size[b]])
            vals.append(coef[b, : size[b]])
        support_sizes[points], reached[points] = size, done
    Ct = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return Ct, support_sizes, reached


def _omp_block(
    X: np.ndarray,
    Xc: np.ndarray,
    points: np.ndarray,
    kmax: int,
    eps: float,
    blas: ThreadpoolController,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run OMP for ``points`` together; returns supports, coefficients, sizes, reached-ε.

    The (block×D)·(D×n) correlations use every BLAS thread; the per-point products of the
    Gram–Schmidt and the final solves (k×D, k×k) run on one: threads gain nothing on them
    and slow them down when another process holds a core.
    """
    B, D = len(points), X.shape[1]
    target = X[points]
    threshold = eps * np.linalg.norm(target, axis=1)
    residual = target.copy()
    Q = np.zeros((B, kmax, D))  # row k of Q[b]: the k-th orthonormal direction of point b
    R = np.zeros((B, kmax, kmax))
    support = np.zeros((B, kmax), dtype=np.int64)
    size = np.zeros(B, dtype=np.int64)
    active = np.linalg.norm(residual, axis=1) > threshold
    done = ~active
    for k in range(kmax):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        every = idx.size == B  # then slices (views), not gathered copies
        rows = slice(None) if every else idx
        correlation = residual[rows].astype(Xc.dtype) @ Xc.T
        np.abs(correlation, out=correlation)
        correlation[np.arange(idx.size), points[idx]] = -1.0  # never the point itself
        if k:
            np.put_along_axis(correlation, support[rows, :k], -1.0, axis=1)
        atom = np.argmax(correlation, axis=1)
        del correlation
        # Gram–Schmidt (twice, for stability) of the new atoms against each point's Q
        a = X[atom]
        q = a.copy()
        Q_k = Q[rows, :k]
        proj_total = np.zeros((idx.size, k))
        with blas.limit(limits=1, user_api="blas"):
            for _ in range(2):
                proj = np.matmul(Q_k, q[:, :, None])[..., 0]
                q -= np.matmul(proj[:, None, :], Q_k)[:, 0]
                proj_total += proj
        norm = np.linalg.norm(q, axis=1)
        # an atom already in the span (only when every correlation vanished) ends the pursuit
        independent = norm > 1e-10 * np.linalg.norm(a, axis=1)
        active[idx[~independent]] = False
        idx, atom, q, norm = idx[independent], atom[independent], q[independent], norm[independent]
        q /= norm[:, None]
        support[idx, k] = atom
        size[idx] = k + 1
        Q[idx, k] = q
        R[idx, :k, k] = proj_total[independent]
        R[idx, k, k] = norm
        # r = x − QQᵀx, updated with the new direction
        residual[idx] -= np.einsum("bd,bd->b", q, residual[idx])[:, None] * q
        reached = np.linalg.norm(residual[idx], axis=1) <= threshold[idx]
        done[idx] = reached
        active[idx[reached]] = False
    # c = R⁻¹ Qᵀ x on each point's support (upper-triangular R, padded with identity)
    coef = np.zeros((B, kmax))
    with blas.limit(limits=1, user_api="blas"):
        for s in np.unique(size):
            if s == 0:
                continue
            sel = np.flatnonzero(size == s)
            rhs = np.matmul(Q[sel, :s], target[sel][:, :, None])[..., 0]
            coef[sel, :s] = np.linalg.solve(R[sel, :s, :s], rhs[..., None])[..., 0]
    return support, coef, size, done
