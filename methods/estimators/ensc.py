"""The estimator of ``ensc`` (declared in ``methods/ensc.py``): Elastic Net Subspace
Clustering with the ORGEN active-set solver (You et al., CVPR 2016).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import ThreadpoolController

from benchmark.registry import load_module
from benchmark.selfexpressive import SelfExpressiveClustering
from benchmark.spectral import symmetric_affinity

# Block sizes, declared in methods/ensc.py with the memory estimate that depends on them.
_DECLARATION = load_module(Path(__file__).resolve().parents[1] / "ensc.py")
POINT_BLOCK: int = _DECLARATION.POINT_BLOCK
GRAM_BLOCK: int = _DECLARATION.GRAM_BLOCK
ROW_BLOCK_BYTES: int = _DECLARATION.ROW_BLOCK_BYTES
MIN_ROWS: int = _DECLARATION.MIN_ROWS
blas_threads = _DECLARATION.blas_threads

FEATURE_SIGN_TOL = 1e-9
"""Optimality tolerance of the subproblem solver, relative to λ."""
LINE_SEARCH_CHUNK = 16
"""Step candidates whose ℓ1 norms are evaluated at once (keeps a B×16×w array, not B×w×w)."""

T = TypeVar("T")


class Violators(NamedTuple):
    """A point's oracle violators: the exact set, their float32 |x_iᵀδ| and its error bound."""

    points: np.ndarray
    values: np.ndarray
    margin: float


class _Update(NamedTuple):
    """One block's ORGEN step: new coefficients and objectives, which points are done, and
    for the others (by row) the new active set, its warm start and size limit."""

    points: np.ndarray
    coef: np.ndarray
    objective: np.ndarray
    done: np.ndarray
    grown: dict[int, tuple[np.ndarray, np.ndarray, int]]


class EnSC(SelfExpressiveClustering):
    """Elastic net subspace clustering, each point's coefficients found by ORGEN.

    You, Li, Robinson & Vidal, "Oracle Based Active Set Algorithm for Scalable Elastic
    Net Subspace Clustering", CVPR 2016. For every point x_j (other points X_{−j}),

        c_j = argmin_c  λ‖c‖₁ + (1−λ)/2 ‖c‖₂² + γ/2 ‖x_j − X_{−j} c‖₂²       (EnSC)

    with λ = ``tau`` and γ = ``gamma``·λ / max_{i≠j}|x_iᵀx_j| (``gamma`` times the
    smallest γ giving a nonzero solution, Prop. 1; the reference code's ``gamma_nz``).
    ORGEN (the paper's oracle-guided active-set algorithm): start from the
    ``support_size`` points most correlated with x_j; solve the problem restricted to
    the active set T_k; form the oracle point
    δ_k = γ(x_j − X_{T_k} c_k); stop when no point violates |x_iᵀδ_k| ≤ λ,
    else T_{k+1} = supp(c_k) ∪ {violators} (the most violating ones when the set would
    exceed ``support_size``, which grows by 10% when the support fills 80% of it, and
    stop early when the objective stalls, as in the reference code; the growth is at
    least one point, since round(1.1·s) = s for s <= 4 would leave the set stuck).

    Vectorised over points: the restricted problems of a block of points are solved
    exactly by a batched active-set method (feature-sign search, as LARS-type solvers
    in the reference code are exact), warm-started from the previous active set; the
    oracle check of a block is one (block×D)·(D×n) product, in float32 with every entry
    near the threshold recomputed in float64 (:class:`Float32Screen`: the violators, and
    which of them are the most violating, are float64's), as is the initial coherence
    ranking. The blocks of a round run on as many threads as BLAS may use, each with
    one BLAS thread; the result does not depend on the thread count.

    Affinity as in the reference code: the ``n_nonzero`` largest coefficients of each
    point, its coefficient vector scaled to unit ℓ2 norm, W = ½(|C| + |C|ᵀ).
    Sets ``n_iter_`` (ORGEN iterations), ``converged_`` and ``objective_`` (sum over
    points of the EnSC objective).
    """

    def __init__(
        self,
        n_clusters: int = 8,
        gamma: float = 50.0,
        tau: float = 0.9,
        support_size: int = 100,
        max_outer: int = 40,
        n_nonzero: int = 50,
        normalize_points: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.gamma = gamma
        self.tau = tau
        self.support_size = support_size
        self.max_outer = max_outer
        self.n_nonzero = n_nonzero
        self.random_state = random_state
        self.normalize_points = normalize_points

    def _check_params(self) -> None:
        if not self.gamma > 1:
            raise ValueError(
                f"gamma must be > 1 (a multiple of the smallest γ giving nonzero "
                f"coefficients); got {self.gamma!r}. Typical values are 5 to 500."
            )
        if not 0 < self.tau < 1:
            raise ValueError(
                f"tau (the paper's λ) must be in (0, 1); got {self.tau!r}. "
                "tau = 1 is SSC (use the 'ssc' method)."
            )
        for name in ("support_size", "max_outer", "n_nonzero"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def _self_expression(self, X: np.ndarray) -> sp.csc_matrix:
        self._check_params()
        solver = OrgenSolver(
            np.asarray(X, dtype=np.float64), self.gamma, self.tau, self.support_size
        )
        solver.run(self.max_outer)
        self.n_iter_ = solver.n_outer
        self.converged_ = bool(solver.done.all())
        self.objective_ = float(solver.objective.sum())
        return solver.coefficients(self.n_nonzero).T.tocsc()

    def _affinity(self, coef: sp.spmatrix) -> sp.csr_matrix:
        # each point's representation (column of C, row of Cᵀ) to unit ℓ2 norm
        return symmetric_affinity(normalize(sp.csr_matrix(coef.T), norm="l2").T)


class OrgenSolver:
    """ORGEN for all points at once; state is one padded active set per point.

    ``support[j, :length[j]]`` is T_k for point j and ``coef[j]`` its restricted
    solution; padding at index n (a zero row wherever X_T is gathered; its coefficient
    stays 0, since its only term is (1−λ)/2·c²).

    Points are independent within an ORGEN round, so the blocks of a round are solved on
    ``workers`` threads (default: the BLAS threads available), each making its BLAS calls
    on one thread; their updates are applied in block order, so the result is the same
    at every worker count.
    """

    def __init__(
        self,
        X: np.ndarray,
        gamma: float,
        tau: float,
        support_size: int,
        workers: int | None = None,
    ) -> None:
        self.X = X
        n = X.shape[0]
        self.screen = Float32Screen(X)
        self.workers = workers if workers is not None else blas_threads()
        self.blas = ThreadpoolController()
        self.tau = tau
        size = min(support_size, n - 1)
        self.size_limit = np.full(n, size, dtype=np.int64)
        # max_{i≠j}|x_iᵀx_j| and the size most coherent other points, for every j
        blocks = [np.arange(b0, min(b0 + POINT_BLOCK, n)) for b0 in range(0, n, POINT_BLOCK)]
        ranked = list(self._map(lambda j: self.screen.top(X[j], size, j), blocks))
        coherence_max = np.concatenate([peak for peak, _ in ranked])
        self.support = np.concatenate([support for _, support in ranked])
        if np.any(coherence_max <= 0):
            raise ValueError(
                "some point is orthogonal to all others, so γ = gamma·λ/max|x_iᵀx_j| is "
                "undefined; remove zero or isolated points"
            )
        self.gam = gamma * tau / coherence_max
        self.length = np.full(n, size, dtype=np.int64)
        self.coef = np.zeros(self.support.shape)
        self.objective = np.full(n, np.inf)
        self.done = np.zeros(n, dtype=bool)
        self.n_outer = 0

    def _map(self, function: Callable[[np.ndarray], T], blocks: list[np.ndarray]) -> Iterator[T]:
        """``function`` over ``blocks`` on the worker threads, results in order; every BLAS
        call on one thread (the block's many small products gain nothing from threads,
        and with another process on the cores two-thread calls of that size were ~40×
        slower: n = 3,000, Grams 2.7 s on one thread, 105 s on two)."""
        with self.blas.limit(limits=1, user_api="blas"):
            if self.workers <= 1 or len(blocks) <= 1:
                yield from map(function, blocks)
                return
            with ThreadPoolExecutor(min(self.workers, len(blocks))) as pool:
                yield from pool.map(function, blocks)

    def run(self, max_outer: int) -> None:
        """ORGEN iterations until every point has no oracle violators (or ``max_outer``)."""
        for _ in range(max_outer):
            todo = np.flatnonzero(~self.done)
            if todo.size == 0:
                return
            self.n_outer += 1
            blocks = [todo[b0 : b0 + POINT_BLOCK] for b0 in range(0, todo.size, POINT_BLOCK)]
            for update in self._map(self._step, blocks):
                self._apply(update)

    def _step(self, points: np.ndarray) -> _Update:
        """One ORGEN iteration for ``points``: reads their state only, returns their next."""
        width = int(self.length[points].max())
        S = self.support[points, :width]
        gam = self.gam[points]
        G, b = self._restricted_gram(points, S)
        c = _feature_sign(G, b, gam, self.tau, self.coef[points, :width])  # G overwritten
        del G
        nonzero = c != 0
        C_block = sp.csr_matrix(
            (c[nonzero], (np.nonzero(nonzero)[0], S[nonzero])), shape=(points.size, len(self.X))
        )
        residual = self.X[points] - C_block @ self.X
        objective = (
            self.tau * np.abs(c).sum(1)
            + 0.5 * (1 - self.tau) * (c**2).sum(1)
            + 0.5 * gam * (residual**2).sum(1)
        )
        stalled = self.objective[points] - objective < 1e-10 * self.objective[points]
        update = _Update(points, c, objective, stalled.copy(), {})
        # oracle δ = γ(x_j − X_T c); violators: |x_iᵀδ| > λ outside T ∪ {j}
        oracle = gam[:, None] * residual
        excluded = np.hstack([S, points[:, None]])
        found = self.screen.above(oracle, self.tau + 1e-10, excluded)
        for r, violators in enumerate(found):
            if stalled[r] or violators.points.size == 0:
                update.done[r] = True
            else:
                update.grown[r] = self._grow(points[r], S[r], c[r], oracle[r], violators)
        return update

    def _grow(
        self, j: int, S: np.ndarray, c: np.ndarray, oracle: np.ndarray, violators: Violators
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """T ← supp(c) ∪ violators (the most violating first), as the reference code:
        the new active set, its warm start and point ``j``'s new size limit."""
        keep = np.abs(c) > 1e-10
        active, active_coef = S[keep], c[keep]
        limit = int(self.size_limit[j])
        if active.size > 0.8 * limit:
            # at least one more point: round(1.1·limit) = limit for limit <= 4, and then
            # ORGEN could never add a violator and would stall short of the optimum
            grown = max(round(max(active.size, limit) * 1.1), limit + 1)
            limit = min(grown, self.X.shape[0] - 1)
        room = max(limit - active.size, 0)
        added = self.screen.largest(oracle, violators, room)
        return np.concatenate([active, added]), active_coef, limit

    def _apply(self, update: _Update) -> None:
        """Write one block's step into the solver's state (on the calling thread)."""
        points, c = update.points, update.coef
        self.objective[points] = update.objective
        self.coef[points, : c.shape[1]] = c
        self.done[points[update.done]] = True
        for r, (support, active_coef, limit) in update.grown.items():
            j = points[r]
            if support.size > self.support.shape[1]:
                self._widen(support.size)
            self.size_limit[j] = limit
            self.support[j, : support.size] = support
            self.support[j, support.size :] = self.X.shape[0]
            self.coef[j] = 0.0
            self.coef[j, : active_coef.size] = active_coef
            self.length[j] = support.size

    def _widen(self, width: int) -> None:
        extra = width - self.support.shape[1]
        n = self.X.shape[0]
        self.support = np.hstack([self.support, np.full((n, extra), n, dtype=np.int64)])
        self.coef = np.hstack([self.coef, np.zeros((n, extra))])

    def _restricted_gram(self, points: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """G = X_T X_Tᵀ (B×s×s) and b = X_T x_j (B×s) for each point's active set."""
        B, s = S.shape
        n = self.X.shape[0]
        G = np.empty((B, s, s))
        b = np.empty((B, s))
        for g0 in range(0, B, GRAM_BLOCK):
            block = S[g0 : g0 + GRAM_BLOCK]
            A = self.X[np.minimum(block, n - 1)]
            A[block == n] = 0.0  # padding
            G[g0 : g0 + GRAM_BLOCK] = A @ A.transpose(0, 2, 1)
            b[g0 : g0 + GRAM_BLOCK] = np.einsum(
                "bsd,bd->bs", A, self.X[points[g0 : g0 + GRAM_BLOCK]]
            )
        return G, b

    def coefficients(self, n_nonzero: int) -> sp.csr_matrix:
        """Cᵀ (row j: point j's coefficients), keeping the ``n_nonzero`` largest per point."""
        n = self.X.shape[0]
        magnitude = np.abs(self.coef)
        k = min(n_nonzero, magnitude.shape[1])
        top = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
        cols = np.take_along_axis(self.support, top, axis=1)
        vals = np.take_along_axis(self.coef, top, axis=1)
        rows = np.repeat(np.arange(n), k)
        keep = (vals.ravel() != 0) & (cols.ravel() < n)
        return sp.csr_matrix((vals.ravel()[keep], (rows[keep], cols.ravel()[keep])), shape=(n, n))


class Float32Screen:
    """Exact tests |x_iᵀv| > t over all points i at float32 speed.

    The n-wide products (the oracle check, the coherences) run in float32; every entry
    within the float32 rounding bound of the threshold is recomputed in float64, so the
    points returned, and their ranking (:meth:`largest`), are those of a float64
    computation; only the few entries near a decision are recomputed. Bound: a
    float32 dot product of length D of float64 inputs errs by at most
    (D + 2)·u·Σ_k |v_k x_ik| ≤ (D + 2)·u·‖v‖·‖x_i‖, u = 2⁻²⁴ (Higham, Accuracy and
    Stability of Numerical Algorithms, §3.1, with the rounding of both inputs); twice
    that is used.
    """

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.X32 = X.astype(np.float32)
        n, D = X.shape
        unit_roundoff = float(np.finfo(np.float32).eps) / 2
        self.relative_error = 2 * (D + 2) * unit_roundoff
        self.largest_norm = float(np.linalg.norm(X, axis=1).max(initial=0.0))
        self.rows_at_once = max(MIN_ROWS, ROW_BLOCK_BYTES // (4 * n))

    def _products(self, V: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Row blocks of ``V``: (first row, block, |block·Xᵀ| in float32, each row's bound
        on that product's rounding error)."""
        for r0 in range(0, V.shape[0], self.rows_at_once):
            block = V[r0 : r0 + self.rows_at_once]
            product = block.astype(np.float32) @ self.X32.T
            np.abs(product, out=product)
            margin = self.relative_error * self.largest_norm * np.linalg.norm(block, axis=1)
            yield r0, block, product, margin

    def above(self, V: np.ndarray, threshold: float, excluded: np.ndarray) -> list[Violators]:
        """For each row v of ``V``: the points i with |x_iᵀv| > ``threshold`` (exactly the
        float64 test), leaving out the indices in the row's ``excluded`` (values ≥ n are
        padding). Only entries within the rounding bound of the threshold are recomputed
        in float64; the others are decided by their float32 value."""
        n = self.X.shape[0]
        found = []
        for r0, block, product, margin in self._products(V):
            candidate = product > (threshold - margin)[:, None]
            skip = excluded[r0 : r0 + len(block)]
            rows = np.broadcast_to(np.arange(len(block))[:, None], skip.shape)
            inside = skip < n
            candidate[rows[inside], skip[inside]] = False
            for v, row, values, bound in zip(block, candidate, product, margin, strict=True):
                points = np.flatnonzero(row)
                values = values[points]
                unsure = values <= threshold + bound
                if unsure.any():
                    exact = np.abs(self.X[points[unsure]] @ v) > threshold
                    sure = ~unsure
                    sure[unsure] = exact
                    points, values = points[sure], values[sure]
                found.append(Violators(points, values, float(bound)))
        return found

    def largest(self, v: np.ndarray, violators: Violators, size: int) -> np.ndarray:
        """All of ``violators`` (in index order) if they are at most ``size``, else the
        ``size`` of largest float64 |x_iᵀv| (ties by index), largest first."""
        points, values = violators.points, violators.values
        if points.size <= size:
            return points
        if size == 0:
            return points[:0]
        # every point of the exact top set is within twice the rounding bound of the
        # float32 size-th largest value
        kth = np.partition(values, points.size - size)[points.size - size]
        candidates = points[values >= kth - 2 * violators.margin]
        exact = np.abs(self.X[candidates] @ v)
        return candidates[np.argsort(-exact, kind="stable")[:size]]

    def top(self, V: np.ndarray, size: int, excluded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row v of ``V``: the ``size`` points of largest |x_iᵀv| (i not the row's
        ``excluded`` index) and the largest value, both as a float64 computation gives
        them (up to ties)."""
        peak = np.empty(V.shape[0])
        support = np.empty((V.shape[0], size), dtype=np.int64)
        for r0, block, product, margin in self._products(V):
            product[np.arange(len(block)), excluded[r0 : r0 + len(block)]] = -1.0
            # the size-th largest float32 value, less the rounding bound, is a lower bound
            # on the exact size-th largest: every point that can be in the exact top set
            # is above it
            kth = -np.partition(-product, size - 1, axis=1)[:, size - 1]
            candidate = product >= (kth - 2 * margin)[:, None]
            del product
            for r, (v, row) in enumerate(zip(block, candidate, strict=True)):
                points = np.flatnonzero(row)
                points = points[points != excluded[r0 + r]]
                value = np.abs(self.X[points] @ v)
                order = np.argsort(-value, kind="stable")[:size]
                support[r0 + r] = points[order]
                peak[r0 + r] = value[order[0]]
        return peak, support


def _feature_sign(
    G: np.ndarray, b: np.ndarray, gam: np.ndarray, lam: float, c0: np.ndarray
) -> np.ndarray:
    """Batched exact solver of min λ‖c‖₁ + (1−λ)/2‖c‖² + γ/2 (cᵀGc − 2bᵀc), one problem a row.

    Feature-sign search (Lee, Battle, Raina & Ng, NIPS 2006), an active-set method that
    ends at the exact minimiser: with H = γG + (1−λ)I and h = γb, while some coefficient
    breaks optimality, (a) when the nonzero coefficients are optimal, activate the zero
    coefficient with the largest |(Hc − h)_i| > λ, sign −sign((Hc − h)_i); (b) solve
    H_AA c_A = h_A − λθ_A on the active set A; (c) move to the best point of the segment
    (its end or a zero crossing), dropping coefficients that reach zero. Warm-started
    from ``c0`` (A = supp(c0)); the objective decreases at every step. ``G`` is
    overwritten by H (the block's largest array, B×s×s, is not copied).
    """
    B, s, _ = G.shape
    H = G
    H *= gam[:, None, None]
    H[:, np.arange(s), np.arange(s)] += 1.0 - lam
    h = gam[:, None] * b
    c_out = c0.copy()
    rows = np.arange(B)
    c = c0.copy()
    tol = FEATURE_SIGN_TOL * lam
    for _ in range(4 * s + 50):
        g = np.einsum("bij,bj->bi", H, c) - h
        nonzero = c != 0
        sign = np.sign(c)
        nonzero_ok = np.all(~nonzero | (np.abs(g + lam * sign) <= tol), axis=1)
        violation = np.where(nonzero, -np.inf, np.abs(g) - lam)
        worst = np.argmax(violation, axis=1)
        worst_value = np.take_along_axis(violation, worst[:, None], 1)[:, 0]
        finished = nonzero_ok & (worst_value <= tol)
        if finished.any():
            c_out[rows[finished]] = c[finished]
            keep = ~finished
            rows, H, h, c, g = rows[keep], H[keep], h[keep], c[keep], g[keep]
            if rows.size == 0:
                return c_out
            nonzero, sign = nonzero[keep], sign[keep]
            nonzero_ok, worst, worst_value = nonzero_ok[keep], worst[keep], worst_value[keep]
        r = np.arange(rows.size)
        active = nonzero.copy()
        theta = sign.copy()
        activate = r[nonzero_ok & (worst_value > tol)]
        active[activate, worst[activate]] = True
        theta[activate, worst[activate]] = -np.sign(g[activate, worst[activate]])
        # compact each row's active set to the front (padding solved as identity)
        count = active.sum(1)
        width = int(count.max())
        order = np.argsort(~active, axis=1, kind="stable")[:, :width]
        valid = np.arange(width)[None, :] < count[:, None]
        # H_AA in two gathers (the rows, then the columns): faster than one 3-index gather
        H_A = np.take_along_axis(H[r[:, None], order], order[:, None, :], axis=2)
        H_A[~(valid[:, :, None] & valid[:, None, :])] = 0.0
        padding = np.arange(width)[None, :] >= count[:, None]
        H_A[:, np.arange(width), np.arange(width)] += padding  # identity on the padding
        rhs = np.where(valid, np.take_along_axis(h - lam * theta, order, 1), 0.0)
        target = np.linalg.solve(H_A, rhs[..., None])[..., 0]
        current = np.take_along_axis(c, order, 1)
        d = np.where(valid, target - current, 0.0)
        # exact line search over t = 1 and the zero crossings of current coefficients
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = -current / d
        cross = np.where(
            (current != 0) & (np.sign(target) != np.sign(current)) & (cross > 0) & (cross < 1),
            cross,
            np.inf,
        )
        steps = np.concatenate([cross, np.ones((rows.size, 1))], axis=1)
        finite = np.isfinite(steps)
        t = np.where(finite, steps, 0.0)
        slope = np.einsum("bi,bi->b", np.take_along_axis(g, order, 1), d)
        curvature = np.einsum("bi,bij,bj->b", d, H_A, d)  # d is 0 off the active set
        l1 = np.empty(t.shape)
        for k0 in range(0, t.shape[1], LINE_SEARCH_CHUNK):  # B×chunk×w at a time
            along = t[:, k0 : k0 + LINE_SEARCH_CHUNK, None] * d[:, None, :]
            along += current[:, None, :]
            l1[:, k0 : k0 + LINE_SEARCH_CHUNK] = np.abs(along, out=along).sum(2)
        value = np.where(
            finite, t * slope[:, None] + 0.5 * t**2 * curvature[:, None] + lam * l1, np.inf
        )
        best = np.argmin(value, axis=1)
        moved = current + t[r, best][:, None] * d
        crossed = best < width
        moved[r[crossed], best[crossed]] = 0.0
        np.put_along_axis(c, order, np.where(valid, moved, 0.0), axis=1)
    c_out[rows] = c
    return c_out
