"""The solvers against an exact oracle: the same convex program solved by cvxpy (Clarabel).

On tiny noisy unions of subspaces each method's solution must reach the optimum of the
program its docstring states: both solutions are scored by one NumPy objective, and the
method's must be within ``RELATIVE_GAP`` of the oracle's.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp

from benchmark.synthetic import union_of_subspaces

RELATIVE_GAP = 1e-4
CLARABEL_TOLERANCES = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
AMBIENT_DIMS = [15, 100]
"""D < n = 45 and D > n (SSC then works on an n-row factor with the same Gram)."""


def tiny_union(ambient_dim: int) -> np.ndarray:
    """45 points (samples in rows, float64): 3 random 3-dim subspaces, unit norm, noise 0.05."""
    X, _ = union_of_subspaces(3, 3, ambient_dim, 15, noise=0.05, unit_norm=True, seed=4)
    return X.astype(np.float64)


def solve_oracle(objective: cp.Expression, C: cp.Variable) -> np.ndarray:
    """argmin of ``objective`` over C with diag(C) = 0, to Clarabel's tight tolerances."""
    problem = cp.Problem(cp.Minimize(objective), [cp.diag(C) == 0])
    problem.solve(solver=cp.CLARABEL, **CLARABEL_TOLERANCES)
    assert problem.status == cp.OPTIMAL, problem.status
    return C.value


def assert_reaches_optimum(found: float, optimum: float) -> None:
    assert abs(found - optimum) <= RELATIVE_GAP * optimum, (
        f"objective {found:.10g} vs optimum {optimum:.10g} "
        f"(relative gap {(found - optimum) / optimum:.2e})"
    )


def dense(coef) -> np.ndarray:
    return coef.toarray() if sp.issparse(coef) else np.asarray(coef)


def ssc_objective(C: np.ndarray, Y: np.ndarray, lam: float) -> float:
    """‖C‖₁ + λ_z/2 ‖Y − YC‖_F² (points in the columns of Y)."""
    return float(np.abs(C).sum() + 0.5 * lam * np.sum((Y - Y @ C) ** 2))


@pytest.mark.parametrize("ambient_dim", AMBIENT_DIMS)
def test_ssc_reaches_the_optimum_of_its_lasso_program(registry, ambient_dim):
    X = tiny_union(ambient_dim)
    # the reference stopping rule (tol = 2e-4, max_iter = 200) leaves a gap of 4e-4 to 1.3e-3
    # here; the iteration itself converges to the optimum: tol = 1e-6 is within 2e-6 of it
    ssc = (
        registry.method("ssc")
        .estimator_class(
            n_clusters=3, alpha=20.0, tol=1e-6, max_iter=20_000, dtype="float64", random_state=0
        )
        .fit(X)
    )
    assert ssc.converged_
    found = dense(ssc.coef_)
    assert np.all(np.diag(found) == 0)
    Y = X.T
    G = np.abs(Y.T @ Y)
    np.fill_diagonal(G, 0)
    lam = 20.0 / G.max(axis=0).min()  # λ_z = α_z / μ_z, μ_z = min_j max_{i≠j} |y_iᵀ y_j|
    assert ssc.lambda_ == pytest.approx(lam, rel=1e-12)
    C = cp.Variable(found.shape)
    oracle = solve_oracle(cp.sum(cp.abs(C)) + lam / 2 * cp.sum_squares(Y - Y @ C), C)
    assert ssc.objective_ == pytest.approx(ssc_objective(found, Y, lam), rel=1e-10)
    assert_reaches_optimum(ssc_objective(found, Y, lam), ssc_objective(oracle, Y, lam))


def ensc_objective(C: np.ndarray, Y: np.ndarray, gam: np.ndarray, tau: float) -> float:
    """Σ_j τ‖c_j‖₁ + (1−τ)/2 ‖c_j‖² + γ_j/2 ‖y_j − Y c_j‖² (c_j: column j of C)."""
    residual = np.sum((Y - Y @ C) ** 2, axis=0)
    return float(
        tau * np.abs(C).sum() + 0.5 * (1 - tau) * np.sum(C**2) + 0.5 * np.sum(gam * residual)
    )


@pytest.mark.parametrize("ambient_dim", AMBIENT_DIMS)
@pytest.mark.parametrize(
    ("gamma", "tau", "support_size"),
    [
        (50.0, 0.9, 100),  # the defaults: the working set holds every point, one round
        (200.0, 0.9, 5),  # a small working set: several oracle-guided rounds
        (5.0, 0.5, 3),  # a working set that must grow past round(1.1 · 3) = 3
    ],
)
def test_ensc_reaches_the_optimum_of_its_elastic_net_program(
    registry, ambient_dim, gamma, tau, support_size
):
    X = tiny_union(ambient_dim)
    n = X.shape[0]
    ensc = (
        registry.method("ensc")
        .estimator_class(
            n_clusters=3,
            gamma=gamma,
            tau=tau,
            support_size=support_size,
            n_nonzero=n,
            random_state=0,
        )
        .fit(X)
    )  # n_nonzero = n: coef_ keeps every coefficient
    assert ensc.converged_
    if support_size < n - 1:
        assert ensc.n_iter_ > 1
    found = dense(ensc.coef_)
    assert np.all(np.diag(found) == 0)
    Y = X.T
    G = np.abs(Y.T @ Y)
    np.fill_diagonal(G, 0)
    gam = gamma * tau / G.max(axis=0)  # γ_j = gamma · λ / max_{i≠j} |x_iᵀ x_j|
    C = cp.Variable((n, n))
    weighted_residual = (Y - Y @ C) @ np.diag(np.sqrt(gam))
    objective = (
        tau * cp.sum(cp.abs(C))
        + (1 - tau) / 2 * cp.sum_squares(C)
        + 0.5 * cp.sum_squares(weighted_residual)
    )
    oracle = solve_oracle(objective, C)
    assert ensc.objective_ == pytest.approx(ensc_objective(found, Y, gam, tau), rel=1e-10)
    assert_reaches_optimum(ensc_objective(found, Y, gam, tau), ensc_objective(oracle, Y, gam, tau))
