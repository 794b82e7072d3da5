"""The estimator of ``lrr`` (declared in ``methods/lrr.py``): Low-Rank Representation
(Liu et al., TPAMI 2013) by inexact ALM on the row space.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import scipy.linalg

from benchmark.provenance import thread_counts
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
    (Z′+Y₂/μ)(Z′+Y₂/μ)ᵀ: J = P f(Σ) Pᵀ M. While J and E are still zero (about the first
    hundred iterations from μ₀ = 1e-6) every iterate is a row scaling of Vᵀ and the steps
    run in closed form on r numbers (:class:`_DiagonalPhase`); the same iterates, at a
    thousandth of the cost.

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


COLUMN_BLOCK_BYTES = 2**19
"""Size of one iterate's column block: a block's columns of the r×n iterates are updated
together while they sit in cache, so one iteration reads and writes each iterate once
instead of once per elementwise step (those steps are memory-bound at n = 10,000)."""


AFFINITY_BLOCK_BYTES = 2**20
"""Rows of the n×n affinity raised to its power together (on the worker threads)."""


def lrr_inexact_alm(
    X: np.ndarray,
    lam: float,
    tol: float = 1e-8,
    max_iter: int = 1000,
    mu: float = 1e-6,
    rho: float = 1.1,
    max_mu: float = 1e10,
    workers: int | None = None,
) -> LRRSolution:
    """Inexact ALM of LRR for the samples in the rows of X (n×D, float64).

    The first iterations, while J and E stay zero, run in closed form on r numbers
    (:class:`_DiagonalPhase`); the rest on the r×n iterates, whose elementwise updates run
    over column blocks on ``workers`` threads (default: the BLAS threads available). Each
    entry is computed by the same expression whatever the blocking, so the result does not
    depend on ``workers``.
    """
    U, s, Vt = np.linalg.svd(X.T, full_matrices=False)
    rank = int(np.sum(s > max(X.shape) * np.spacing(s[0])))  # MATLAB orth's tolerance
    if rank == 0:
        raise ValueError("X is zero: LRR needs data with a nonzero row space")
    U, s, Vt = U[:, :rank], s[:rank], Vt[:rank]
    penalty = _Penalty(mu, rho, max_mu)
    diagonal = _DiagonalPhase(s, Vt, lam)
    n_iter, converged = diagonal.run(penalty, tol, max_iter)
    iterates = diagonal.iterates()
    if converged:  # J = 0 and Z′ below tol: only in degenerate problems
        converged = _feasible(iterates.leq1(), U, tol)
    n = iterates.Xr.shape[1]
    width = max(1, COLUMN_BLOCK_BYTES // (8 * rank))
    blocks = [slice(c, min(c + width, n)) for c in range(0, n, width)]
    with ThreadPoolExecutor(workers or thread_counts()["blas"] or 1) as pool:
        while not converged and n_iter < max_iter:
            n_iter += 1
            singular_value_threshold(iterates.M, 1.0 / penalty.mu, out=iterates.J)
            step = partial(iterates.update_block, mu=penalty.mu, next_mu=penalty.next)
            leq2_max = np.max(list(pool.map(step, blocks)))
            converged = not leq2_max >= tol and _feasible(iterates.leq1(), U, tol)
            penalty.grow()
    Z, E = iterates.Z, iterates.E
    sigma = np.sqrt(np.maximum(scipy.linalg.eigvalsh(Z @ Z.T), 0.0))
    objective = float(sigma.sum() + lam * np.linalg.norm(E, axis=0).sum())
    return LRRSolution(Vt.T, Z, n_iter, converged, objective)


class _Penalty:
    """The ALM's penalty μ: starts at μ₀, grows by ρ after each iteration up to μ_max."""

    def __init__(self, mu: float, rho: float, max_mu: float) -> None:
        self.mu, self.rho, self.max_mu = mu, rho, max_mu

    @property
    def next(self) -> float:
        return min(self.max_mu, self.mu * self.rho)

    def grow(self) -> None:
        self.mu = self.next


class _DiagonalPhase:
    """The ALM's first iterations in closed form, while J = 0 and E = 0.

    In the coordinates of U_X, X = diag(s)·Vᵀ and A = diag(s). Starting from zero, as long
    as the thresholdings leave J and E at zero every step is linear and acts on each row
    by a scalar, so Z′ = diag(z)·Vᵀ, Y₁ = diag(y₁)·Vᵀ, Y₂ = diag(y₂)·Vᵀ and
    M = diag(m)·Vᵀ, with (ALM steps of :func:`lrr_inexact_alm` with J = E = 0):

        z  ← (s² + (s·y₁ − y₂)/μ) / (s² + 1)
        y₁ ← y₁ + μ·(s − s·z),   y₂ ← y₂ + μ·z,   m ← z + y₂/μ_next

    The rows of Vᵀ are orthonormal, so the singular values of M are |mᵢ|: the next J is
    zero while max |mᵢ| ≤ 1/μ. E is zero while every column of
    W = X − AZ′ + Y₁/μ = diag(s − s·z + y₁/μ)·Vᵀ has norm ≤ λ/μ. The phase stops before the
    first iteration where either fails (with μ₀ = 1e-6 that is after about a hundred
    iterations), and :meth:`iterates` hands the full r×n arrays to the general steps.
    Each iteration costs one r×n matrix-vector product (the column norms of W).
    """

    def __init__(self, s: np.ndarray, Vt: np.ndarray, lam: float) -> None:
        self.s, self.Vt, self.lam = s, Vt, lam
        self.z, self.y1, self.y2, self.m = (np.zeros_like(s) for _ in range(4))

    def run(self, penalty: _Penalty, tol: float, max_iter: int) -> tuple[int, bool]:
        """Iterate while J and E stay zero; returns the iterations done and whether
        max |Z′ − J| fell below ``tol`` (feasibility is then checked on the full arrays)."""
        s, lam = self.s, self.lam
        inv_a = 1.0 / (s * s + 1.0)
        squares = self.Vt * self.Vt
        row_max = np.abs(self.Vt).max(axis=1)
        n_iter = 0
        while n_iter < max_iter and np.abs(self.m).max() <= 1.0 / penalty.mu:
            mu = penalty.mu
            z = inv_a * (s * s + (s * self.y1 - self.y2) / mu)
            w = s - s * z + self.y1 / mu
            if np.sqrt((w * w) @ squares).max() > lam / mu:
                break
            n_iter += 1
            self.z = z
            self.y1 = self.y1 + mu * (s - s * z)
            self.y2 = self.y2 + mu * z
            self.m = z + self.y2 / penalty.next
            if not (np.abs(z) * row_max).max() >= tol:
                penalty.grow()
                return n_iter, True
            penalty.grow()
        return n_iter, False

    def iterates(self) -> _Iterates:
        """The full r×n iterates at the phase's end (E = J = 0)."""
        iterates = _Iterates(self.s, self.Vt, self.lam)
        for target, row_scale in (
            (iterates.Z, self.z),
            (iterates.Y1, self.y1),
            (iterates.Y2, self.y2),
            (iterates.M, self.m),
        ):
            np.multiply(row_scale[:, None], self.Vt, out=target)
        return iterates


class _Iterates:
    """The ALM's r×n arrays in the coordinates of U_X (A = diag(s)), with M = Z′ + Y₂/μ,
    the matrix the next singular value thresholding reads."""

    def __init__(self, s: np.ndarray, Vt: np.ndarray, lam: float) -> None:
        self.lam = lam
        self.Xr = s[:, None] * Vt  # Uᵀ X (r×n); A = U diag(s) becomes diag(s)
        self.s_col = s[:, None]
        self.inv_a = 1.0 / (self.s_col**2 + 1.0)
        self.atx = self.s_col * self.Xr
        self.Z, self.J, self.E, self.Y1, self.Y2, self.M = (
            np.zeros_like(self.Xr) for _ in range(6)
        )
        self._scratch = threading.local()

    def _buffers(self, width: int) -> list[np.ndarray]:
        """Seven contiguous r×width work arrays of the calling thread."""
        size = self.Xr.shape[0] * width
        flat = getattr(self._scratch, "flat", None)
        if flat is None or flat.size < 7 * size:
            flat = self._scratch.flat = np.empty(7 * size)
        shape = (self.Xr.shape[0], width)
        return [flat[k * size : (k + 1) * size].reshape(shape) for k in range(7)]

    def update_block(self, cols: slice, mu: float, next_mu: float) -> float:
        """The Z′, E, Y₁, Y₂ steps of one iteration for the columns ``cols`` (J is already
        updated), and the next M; returns max |Z′ − J| over those columns. Y₁, Y₂ and M
        are updated before the stopping test: a converged solve uses Z′ and E only.

        The block's columns are copied into contiguous work arrays, updated there (in
        cache) and written back: each r×n iterate is read and written once."""
        a, b, z, e, j, y1, y2 = self._buffers(cols.stop - cols.start)
        np.copyto(j, self.J[:, cols])
        np.copyto(y1, self.Y1[:, cols])
        np.copyto(y2, self.Y2[:, cols])
        # Z′ = inv_a * (atx − s E + J + (s Y₁ − Y₂)/μ)
        np.multiply(self.s_col, self.E[:, cols], out=a)
        np.subtract(self.atx[:, cols], a, out=a)
        np.add(a, j, out=a)
        np.multiply(self.s_col, y1, out=b)
        np.subtract(b, y2, out=b)
        np.divide(b, mu, out=b)
        np.add(a, b, out=a)
        np.multiply(self.inv_a, a, out=z)
        # E = column shrinkage of (X − A Z′) + Y₁/μ by λ/μ
        np.multiply(self.s_col, z, out=a)
        np.subtract(self.Xr[:, cols], a, out=a)  # a = X − A Z′
        np.divide(y1, mu, out=b)
        np.add(a, b, out=b)
        np.multiply(b, shrink_scale(b, self.lam / mu), out=e)
        # Y₁ += μ (X − A Z′ − E)
        np.subtract(a, e, out=a)
        np.multiply(mu, a, out=a)
        np.add(y1, a, out=y1)
        # Y₂ += μ (Z′ − J), after max |Z′ − J|
        np.subtract(z, j, out=a)
        leq2_max = float(np.abs(a, out=b).max())
        np.multiply(mu, a, out=a)
        np.add(y2, a, out=y2)
        # M = Z′ + Y₂/μ_next
        np.divide(y2, next_mu, out=a)
        np.add(z, a, out=a)
        for target, value in ((self.Z, z), (self.E, e), (self.Y1, y1), (self.Y2, y2), (self.M, a)):
            target[:, cols] = value
        return leq2_max

    def leq1(self) -> np.ndarray:
        """X − AZ′ − E (r×n), recomputed from Z′ and E for the stopping test."""
        return (self.Xr - self.s_col * self.Z) - self.E


def _feasible(leq1: np.ndarray, U: np.ndarray, tol: float) -> bool:
    """‖U·leq1‖_∞ < tol, the reference's test in the original coordinates (its other half,
    ‖Z′ − J‖_∞ < tol, is checked by the caller)."""
    column_norm = np.sqrt(np.einsum("ij,ij->j", leq1, leq1)).max()
    if column_norm < tol:  # ‖Uv‖_∞ ≤ ‖v‖₂
        return True
    return bool(np.abs(U @ leq1).max() < tol)


def singular_value_threshold(
    M: np.ndarray, tau: float, out: np.ndarray | None = None
) -> np.ndarray:
    """U (Σ − τ)₊ Vᵀ for M = UΣVᵀ (r×n, r ≤ n), via the eigenpairs of MMᵀ above τ²; into
    ``out`` when given.

    With P the kept eigenvectors and f = 1 − τ/√w, this is P·diag(f)·Pᵀ·M: as two thin
    products when few singular values pass (2·k·r·n multiply-adds) and through the r×r
    matrix P·diag(f)·Pᵀ when more than half do (r·r·n). All eigenpairs come from one
    divide-and-conquer ``eigh``: asking LAPACK for those above τ² only (bisection and
    inverse iteration) costs up to four times as much when many pass. NumPy's ``eigh``,
    not SciPy's: NumPy and SciPy each bring their own OpenBLAS, and the threads of the
    one that just ran the products spin on the cores the other's LAPACK needs (SciPy's
    ``eigh`` of the r×r Gram took three times as long right after NumPy's product).
    """
    out = np.empty_like(M) if out is None else out
    if np.sqrt(np.einsum("ij,ij->", M, M)) <= tau:  # σ_max ≤ ‖M‖_F ≤ τ
        out.fill(0.0)
        return out
    w, P = np.linalg.eigh(M @ M.T)
    kept = w > tau * tau
    if not kept.any():
        out.fill(0.0)
        return out
    P = P[:, kept]
    scaled = P * (1.0 - tau / np.sqrt(w[kept]))
    if 2 * P.shape[1] > P.shape[0]:
        return np.matmul(scaled @ P.T, M, out=out)
    return np.matmul(scaled, P.T @ M, out=out)


def shrink_scale(W: np.ndarray, tau: float) -> np.ndarray:
    """The column scales (1 − τ/‖w‖)₊ of the ℓ2,1 proximal step: W times them is
    argmin_E τ‖E‖₂,₁ + ½‖E − W‖_F²."""
    norms = np.sqrt(np.einsum("ij,ij->j", W, W))
    with np.errstate(divide="ignore"):
        return np.where(norms > tau, 1.0 - tau / norms, 0.0)


def shape_interaction_affinity(Q: np.ndarray, Z: np.ndarray, power: int) -> np.ndarray:
    """(ŨŨᵀ)^power with Ũ = UΣ^½ row-normalised, from the skinny SVD of QZ′ (float32, n×n)."""
    w, u = scipy.linalg.eigh(Z @ Z.T)  # left singular vectors of Z′ (those of Z are Q·u)
    sigma = np.sqrt(np.maximum(w, 0.0))
    keep = sigma > 1e-4 * sigma.max()
    U = Q @ (u[:, keep] * np.sqrt(sigma[keep]))
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    U = (U / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    W = U @ U.T
    rows = max(1, AFFINITY_BLOCK_BYTES // (4 * W.shape[1]))
    blocks = [W[r0 : r0 + rows] for r0 in range(0, W.shape[0], rows)]
    with ThreadPoolExecutor(thread_counts()["blas"] or 1) as pool:
        list(pool.map(_power_abs_inplace, blocks, [power] * len(blocks)))
    return W


def _power_abs_inplace(block: np.ndarray, power: int) -> None:
    np.power(block, power, out=block)
    np.abs(block, out=block)
