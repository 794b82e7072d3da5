"""The estimator of ``lrr`` (declared in ``methods/lrr.py``): Low-Rank Representation
(Liu et al., TPAMI 2013) by inexact ALM on the row space.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from benchmark.selfexpressive import SelfExpressiveClustering


class LRR(SelfExpressiveClustering):
    """Low-Rank Representation with ℓ2,1-regularised sample-specific errors.

    Liu, Lin, Yan, Sun, Yu & Ma, "Robust Recovery of Subspace Structures by Low-Rank
    Representation", TPAMI 2013. With the points in the columns of X (D×n):

        min_{Z,E} ‖Z‖_* + λ‖E‖₂,₁   s.t.  X = XZ + E

    Following the paper's reduction to the row space and the reference ``solve_lrr``: with
    Q = orth(Xᵀ) (n×r) and A = XQ, solve min ‖J‖_* + λ‖E‖₂,₁ s.t. X = AZ′ + E, Z′ = J by
    the paper's inexact ALM (reference ``inexact_alm_lrr_l21``: μ₀ = 1e-6, ρ = 1.1,
    μ_max = 1e10, stop when max(‖X − AZ′ − E‖_∞, ‖Z′ − J‖_∞) < ``tol``):

        J  ← U (Σ − 1/μ)₊ Vᵀ  of  Z′ + Y₂/μ         (singular value thresholding)
        Z′ ← (AᵀA + I)⁻¹ (AᵀX − AᵀE + J + (AᵀY₁ − Y₂)/μ)
        E  ← column shrinkage of X − AZ′ + Y₁/μ by λ/μ     (the ℓ2,1 proximal step)
        Y₁ ← Y₁ + μ(X − AZ′ − E),  Y₂ ← Y₂ + μ(Z′ − J),  μ ← min(ρμ, μ_max)

    and Z = QZ′. The test stops on feasibility alone: checked against cvxpy on tiny
    problems (tests/test_lrr_oracle.py), the reference's ρ = 1.1 stops up to 0.3 % above
    the optimal objective, ρ = 1.02 within 1e-4. Every matrix is r×n, never n×n. Q is
    taken as the right singular vectors of X (what MATLAB's ``orth`` returns), so
    A = U_X Σ_X; the iterates are kept in the coordinates of U_X, where A is diagonal and
    the column norms of E (hence ‖E‖₂,₁ and its shrinkage) are unchanged; the stopping
    test is made in the original coordinates. The thresholding uses the r×r Gram
    (Z′+Y₂/μ)(Z′+Y₂/μ)ᵀ: J = P f(Σ) Pᵀ M.

    Affinity: the paper's segmentation step as in the reference code (``lrr_face_seg``,
    ``lrr_motion_seg``): skinny SVD Z = UΣVᵀ keeping σ > 1e-4·σ₁, Ũ = UΣ^½ with rows
    scaled to unit norm, W = (ŨŨᵀ)^``power`` (the reference code uses power 4).
    Sets ``n_iter_``, ``converged_`` and ``objective_`` (‖Z‖_* + λ‖E‖₂,₁).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        lam: float = 0.15,
        tol: float = 1e-8,
        max_iter: int = 1000,
        power: int = 4,
        normalize_points: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.lam = lam
        self.tol = tol
        self.max_iter = max_iter
        self.power = power
        self.random_state = random_state
        self.normalize_points = normalize_points

    def _check_params(self) -> None:
        if not self.lam > 0:
            raise ValueError(f"lam (λ of ‖E‖₂,₁) must be > 0, got {self.lam!r}")
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol!r}")
        if not isinstance(self.max_iter, int | np.integer) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not isinstance(self.power, int | np.integer) or self.power < 1:
            raise ValueError(f"power must be a positive integer, got {self.power!r}")

    def _self_expression(self, X: np.ndarray) -> np.ndarray:
        self._check_params()
        solution = lrr_inexact_alm(
            np.asarray(X, dtype=np.float64), self.lam, self.tol, self.max_iter
        )
        self.n_iter_ = solution.n_iter
        self.converged_ = solution.converged
        self.objective_ = solution.objective
        self.row_basis_, self.coef_row_ = solution.Q, solution.Z
        return solution.Q.astype(np.float32) @ solution.Z.astype(np.float32)

    def _affinity(self, coef: np.ndarray) -> np.ndarray:
        return shape_interaction_affinity(self.row_basis_, self.coef_row_, self.power)


class LRRSolution:
    """Z = Q·Z′ (Q: n×r orthonormal, Z′: r×n) with the solver's bookkeeping."""

    def __init__(
        self, Q: np.ndarray, Z: np.ndarray, n_iter: int, converged: bool, objective: float
    ):
        self.Q, self.Z = Q, Z
        self.n_iter, self.converged, self.objective = n_iter, converged, objective


def lrr_inexact_alm(
    X: np.ndarray,
    lam: float,
    tol: float = 1e-8,
    max_iter: int = 1000,
    mu: float = 1e-6,
    rho: float = 1.1,
    max_mu: float = 1e10,
) -> LRRSolution:
    """Inexact ALM of LRR for the samples in the rows of X (n×D, float64)."""
    U, s, Vt = np.linalg.svd(X.T, full_matrices=False)
    rank = int(np.sum(s > max(X.shape) * np.spacing(s[0])))  # MATLAB orth's tolerance
    if rank == 0:
        raise ValueError("X is zero: LRR needs data with a nonzero row space")
    U, s, Vt = U[:, :rank], s[:rank], Vt[:rank]
    Xr = s[:, None] * Vt  # Uᵀ X (r×n); A = U diag(s) becomes diag(s)
    s_col = s[:, None]
    inv_a = 1.0 / (s_col**2 + 1.0)
    atx = s_col * Xr
    Z = np.zeros_like(Xr)
    J = np.zeros_like(Xr)
    E = np.zeros_like(Xr)
    Y1 = np.zeros_like(Xr)
    Y2 = np.zeros_like(Xr)
    converged = False
    n_iter = 0
    while not converged and n_iter < max_iter:
        n_iter += 1
        J = singular_value_threshold(Z + Y2 / mu, 1.0 / mu)
        Z = inv_a * (atx - s_col * E + J + (s_col * Y1 - Y2) / mu)
        xmaz = Xr - s_col * Z
        E = column_shrink(xmaz + Y1 / mu, lam / mu)
        leq1 = xmaz - E
        leq2 = Z - J
        converged = _below(leq2, leq1, U, tol)
        if converged:
            break
        Y1 += mu * leq1
        Y2 += mu * leq2
        mu = min(max_mu, mu * rho)
    sigma = np.sqrt(np.maximum(scipy.linalg.eigvalsh(Z @ Z.T), 0.0))
    objective = float(sigma.sum() + lam * np.linalg.norm(E, axis=0).sum())
    return LRRSolution(Vt.T, Z, n_iter, converged, objective)


def _below(leq2: np.ndarray, leq1: np.ndarray, U: np.ndarray, tol: float) -> bool:
    """max(‖U·leq1‖_∞, ‖leq2‖_∞) < tol, the reference's test in the original coordinates."""
    if np.abs(leq2).max() >= tol:
        return False
    column_norm = np.sqrt(np.einsum("ij,ij->j", leq1, leq1)).max()
    if column_norm < tol:  # ‖Uv‖_∞ ≤ ‖v‖₂
        return True
    return bool(np.abs(U @ leq1).max() < tol)


def singular_value_threshold(M: np.ndarray, tau: float) -> np.ndarray:
    """U (Σ − τ)₊ Vᵀ for M = UΣVᵀ (r×n, r ≤ n), via the eigenpairs of MMᵀ above τ²."""
    if np.sqrt(np.einsum("ij,ij->", M, M)) <= tau:  # σ_max ≤ ‖M‖_F ≤ τ
        return np.zeros_like(M)
    w, P = scipy.linalg.eigh(M @ M.T, subset_by_value=(tau * tau, np.inf), driver="evr")
    if w.size == 0:
        return np.zeros_like(M)
    shrink = 1.0 - tau / np.sqrt(w)
    return (P * shrink) @ (P.T @ M)


def column_shrink(W: np.ndarray, tau: float) -> np.ndarray:
    """argmin_E τ‖E‖₂,₁ + ½‖E − W‖_F²: each column scaled by (1 − τ/‖w‖)₊."""
    norms = np.sqrt(np.einsum("ij,ij->j", W, W))
    with np.errstate(divide="ignore"):
        scale = np.where(norms > tau, 1.0 - tau / norms, 0.0)
    return W * scale


def shape_interaction_affinity(Q: np.ndarray, Z: np.ndarray, power: int) -> np.ndarray:
    """(ŨŨᵀ)^power with Ũ = UΣ^½ row-normalised, from the skinny SVD of QZ′ (float32, n×n)."""
    w, u = scipy.linalg.eigh(Z @ Z.T)  # left singular vectors of Z′ (those of Z are Q·u)
    sigma = np.sqrt(np.maximum(w, 0.0))
    keep = sigma > 1e-4 * sigma.max()
    U = Q @ (u[:, keep] * np.sqrt(sigma[keep]))
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    U = (U / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    W = U @ U.T
    np.power(W, power, out=W)
    return np.abs(W, out=W)
