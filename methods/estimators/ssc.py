"""The estimator of ``ssc`` (declared in ``methods/ssc.py``): Sparse Subspace Clustering
(Elhamifar & Vidal, TPAMI 2013), noisy-data ADMM.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from benchmark.selfexpressive import SelfExpressiveClustering
from benchmark.spectral import symmetric_affinity

DTYPES = {"float32": np.float32, "float64": np.float64}
ROW_BLOCK = 1024
"""Rows of the n×n iterate processed at once. Each block's product packs the D×n right
factor again, so larger blocks are faster (0.56 s a sweep at 256 rows, 0.49 s at 1024,
n = 10,000, D = 512); the block's work arrays take 9·ROW_BLOCK·n bytes (92 MB there)."""


class SSC(SelfExpressiveClustering):
    """Sparse Subspace Clustering with the Lasso model for noisy data.

    Elhamifar & Vidal, "Sparse Subspace Clustering: Algorithm, Theory, and
    Applications", TPAMI 2013, the Lasso program for noisy data (outlier term off): with the
    points in the columns of Y (D×n),

        min_C ‖C‖₁ + λ_z/2 ‖Y − YC‖_F²   s.t. diag(C) = 0,
        λ_z = α_z / μ_z,   μ_z = min_j max_{i≠j} |y_iᵀ y_j|

    (λ_z = α_z/μ_z as in the paper and the reference code's ``computeLambda_mat``).
    Solved by the ADMM of the paper's appendix (auxiliary A with A = C − diag(C)), with
    the reference code's settings (``admmLasso_mat_func``, affine=false: penalty ρ = α_z,
    C⁰ = Λ⁰ = 0, stop when max|A − C| ≤ ``tol`` = 2e-4 or after ``max_iter`` = 200):

        A ← (λ_z YᵀY + ρI)⁻¹ (λ_z YᵀY + ρC − Λ)
        C ← S_{1/ρ}(A + Λ/ρ) with its diagonal set to 0
        Λ ← Λ + ρ(A − C)

    The reference code also zeroes diag(A) after the A-step; that moves the fixed point
    off the Lasso optimum (3.6% higher objective on the tests' union of subspaces), so
    the paper's iteration is used (it converges to the optimum of the problem above).

    Faithful to these iterates, computed differently so that n = 10,000 fits: the
    n×n inverse is never formed (Woodbury: (λYᵀY + ρI)⁻¹ = ρ⁻¹(I − Yᵀ(ρ/λ I + YYᵀ)⁻¹Y),
    a Cholesky factor on the D×D side; when D > n, Y is replaced by an n-row factor
    with the same Gram YᵀY, which leaves every iterate unchanged). Only V = A + Λ/ρ
    is stored (C = S_{1/ρ}(V) off the diagonal, Λ/ρ = V − C) and YC, YV are kept on the
    D×n side, so an iteration is one D×n×n product plus a few passes over V (``dtype``).

    Affinity as in the reference code (``BuildAdjacency`` with all coefficients kept):
    each column of |C| divided by its largest entry, then symmetrised.

    Sets ``n_iter_``, ``converged_`` and ``objective_`` (the Lasso objective at C).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        alpha: float = 20.0,
        tol: float = 2e-4,
        max_iter: int = 200,
        dtype: str = "float32",
        normalize_points: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.dtype = dtype
        self.random_state = random_state
        self.normalize_points = normalize_points

    def _check_params(self) -> None:
        if not self.alpha > 1:
            raise ValueError(
                f"alpha must be > 1 (λ_z = alpha/μ_z must exceed the value that gives C = 0); "
                f"got {self.alpha!r}. The SSC paper uses 20 for faces and 800 for motion."
            )
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol!r}")
        if not isinstance(self.max_iter, int | np.integer) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def _self_expression(self, X: np.ndarray) -> sp.csc_matrix:
        self._check_params()
        Y = gram_factor(X)
        self.lambda_ = self.alpha / coherence_floor(Y)
        C, n_iter, converged = ssc_admm(
            Y, self.lambda_, float(self.alpha), self.tol, self.max_iter, DTYPES[self.dtype]
        )
        self.n_iter_, self.converged_ = n_iter, converged
        residual = Y - (C.T @ Y.T).T
        self.objective_ = float(abs(C).sum() + 0.5 * self.lambda_ * np.sum(residual**2))
        return C

    def _affinity(self, coef: sp.spmatrix) -> sp.csr_matrix:
        # columns of C scaled by their largest |entry| (rows of Cᵀ), then |C| + |C|ᵀ
        return symmetric_affinity(normalize(sp.csr_matrix(coef.T), norm="max").T)


def gram_factor(X: np.ndarray) -> np.ndarray:
    """A float64 factor Y (m×n, m = min(D, n)) with YᵀY = XXᵀ for samples in rows of X."""
    X = np.asarray(X, dtype=np.float64)
    n, D = X.shape
    if n >= D:
        return np.ascontiguousarray(X.T)
    # D > n: the n×n Gram's square-root factor has fewer rows and the same YᵀY
    _, s, Vt = np.linalg.svd(X.T, full_matrices=False)
    return s[:, None] * Vt


def coherence_floor(Y: np.ndarray, block: int = 1024) -> float:
    """μ_z = min_j max_{i≠j} |y_iᵀ y_j| (SSC paper; reference ``computeLambda_mat``)."""
    n = Y.shape[1]
    floor = np.inf
    for j0 in range(0, n, block):
        G = Y[:, j0 : j0 + block].T @ Y
        rows = np.arange(G.shape[0])
        G[rows, j0 + rows] = 0.0
        floor = min(floor, float(np.abs(G).max(axis=1).min()))
    if floor <= 0:
        raise ValueError(
            "some point is orthogonal to all others (μ_z = 0), so λ_z = α/μ_z is undefined; "
            "remove zero or isolated points"
        )
    return floor


def ssc_admm(
    Y: np.ndarray, lam: float, rho: float, tol: float, max_iter: int, dtype: type = np.float32
) -> tuple[sp.csc_matrix, int, bool]:
    """ADMM for min ‖C‖₁ + λ/2‖Y − YC‖² s.t. diag(C) = 0 with penalty ρ (Y: D×n, float64).

    Returns (C as CSC, iterations run, converged).
    """
    D, n = Y.shape
    t = 1.0 / rho
    gram_d = Y @ Y.T
    factor = scipy.linalg.cho_factor((rho / lam) * np.eye(D) + gram_d)
    inv_m = scipy.linalg.cho_solve(factor, np.eye(D))
    # R = λ(Y − M⁻¹YYᵀY) − ρM⁻¹W with W = Y(C − Λ/ρ) = 2YC − YV, and YYᵀM⁻¹ = I − (ρ/λ)M⁻¹
    R0 = lam * (Y - inv_m @ (gram_d @ Y))
    gram_R0 = gram_d @ R0
    Yt = np.ascontiguousarray(Y.T, dtype=dtype)
    Yt_exact = np.ascontiguousarray(Y.T)  # the sparse product wants it C-ordered

    # Vᵀ (row j = column j of V = A + Λ/ρ), double-buffered; C and its Y-products
    V_old = np.zeros((n, n), dtype=dtype)
    V_new = np.empty((n, n), dtype=dtype)
    Ct = sp.csr_matrix((n, n), dtype=np.float64)
    YC = np.zeros((D, n))
    YV = np.zeros((D, n))
    # the D×n steps write into these (fresh arrays of this size cost page faults each time)
    W, inv_m_W, R = np.empty((D, n)), np.empty((D, n)), np.empty((D, n))
    Rt = np.empty((n, D), dtype=dtype)
    scratch = _SweepScratch(n, dtype)
    converged = False
    n_iter = 0
    while not converged and n_iter < max_iter:
        n_iter += 1
        # A = C − Λ/ρ + YᵀR/ρ (Woodbury), so V_new = A + Λ/ρ = C + YᵀR/ρ
        np.subtract(np.multiply(YC, 2.0, out=W), YV, out=W)  # W = 2YC − YV
        np.matmul(inv_m, W, out=inv_m_W)
        np.subtract(R0, np.multiply(inv_m_W, rho, out=R), out=R)  # R = R0 − ρM⁻¹W
        # Y V_new = YC + (YYᵀR0 − ρW + (ρ²/λ)M⁻¹W)/ρ, overwriting W and M⁻¹W
        np.subtract(gram_R0, np.multiply(W, rho, out=W), out=W)
        np.add(W, np.multiply(inv_m_W, rho * rho / lam, out=inv_m_W), out=W)
        np.add(YC, np.divide(W, rho, out=W), out=YV)
        Rt[...] = np.divide(R, rho, out=R).T
        err, Ct = _update_rows(V_old, V_new, Ct, Rt, Yt, t, scratch)
        YC = (Ct @ Yt_exact).T
        V_old, V_new = V_new, V_old
        converged = err <= tol
    return Ct.T.tocsc(), n_iter, converged


class _SweepScratch:
    """Work arrays for one block of ``ROW_BLOCK`` rows of the n×n iterate, reused by every
    block of every sweep."""

    def __init__(self, n: int, dtype: type) -> None:
        rows = min(ROW_BLOCK, n)
        self.diff = np.empty((rows, n), dtype=dtype)
        self.magnitude = np.empty((rows, n), dtype=dtype)
        self.above = np.empty((rows, n), dtype=bool)


def _update_rows(
    V_old: np.ndarray,
    V_new: np.ndarray,
    Ct_old: sp.csr_matrix,
    Rt: np.ndarray,
    Yt: np.ndarray,
    t: float,
    scratch: _SweepScratch,
) -> tuple[float, sp.csr_matrix]:
    """One sweep over Vᵀ: V_new = C_old + YᵀR/ρ, C_new = S_t(V_new) off the diagonal.

    Returns max|Λ_new − Λ_old|/ρ = max|A − C_new| (the reference's err1) and C_newᵀ.
    """
    n = V_old.shape[0]
    err = 0.0
    rows_out, cols_out, vals_out = [], [], []
    for j0 in range(0, n, ROW_BLOCK):
        j1 = min(n, j0 + ROW_BLOCK)
        tile = V_new[j0:j1]
        np.matmul(Rt[j0:j1], Yt.T, out=tile)
        local = np.arange(j1 - j0)
        lo, hi = Ct_old.indptr[j0], Ct_old.indptr[j1]
        old_r = np.repeat(local, np.diff(Ct_old.indptr[j0 : j1 + 1]))
        old_c, old_v = Ct_old.indices[lo:hi], Ct_old.data[lo:hi]
        tile[old_r, old_c] += old_v
        # Λ/ρ = V − C, so Λ_new/ρ − Λ_old/ρ = (V_new − V_old) − C_new + C_old
        diff = np.subtract(tile, V_old[j0:j1], out=scratch.diff[: j1 - j0])
        diff[old_r, old_c] += old_v
        magnitude = np.abs(tile, out=scratch.magnitude[: j1 - j0])
        magnitude[local, j0 + local] = 0  # diag(C) = 0
        # row-major positions of the entries above t (a flat scan: 2-D nonzero is 10× slower)
        above = np.flatnonzero(np.greater(magnitude, t, out=scratch.above[: j1 - j0]))
        new_r, new_c = np.divmod(above, n)
        v = tile[new_r, new_c].astype(np.float64)
        new_v = v - np.copysign(t, v)
        diff[new_r, new_c] -= new_v
        err = max(err, float(diff.max()), float(-diff.min()))
        rows_out.append(new_r + j0)
        cols_out.append(new_c)
        vals_out.append(new_v)
    Ct_new = sp.csr_matrix(
        (np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))),
        shape=(n, n),
    )
    return err, Ct_new
