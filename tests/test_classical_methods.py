"""SSC, EnSC, SSC-OMP and LRR: clustering, the solvers' optimality, the sklearn contract."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import ElasticNet, Lasso

from benchmark.metrics import clustering_accuracy
from benchmark.synthetic import union_of_subspaces

METHODS = ("ssc", "ensc", "ssc-omp", "lrr")
SELF_EXCLUDING = ("ssc", "ensc", "ssc-omp")


@pytest.fixture(scope="module")
def union():
    """5 random 4-dim subspaces of R^30, 60 unit-norm points each, noise 0.01."""
    X, y = union_of_subspaces(5, 4, 30, 60, noise=0.01, unit_norm=True, seed=0)
    return X, y


def _estimator(registry, method_id: str, **overrides):
    info = registry.method(method_id)
    params = {name: p.value for name, p in info.params_for("synthetic").items()}
    params.update({"n_clusters": 5, "random_state": 0, **overrides})
    return info.estimator_class(**params)


def _module(registry, method_id: str):
    """The estimator's module (loaded by path), for its solver functions."""
    return inspect.getmodule(registry.method(method_id).estimator_class)


def _dense(coef) -> np.ndarray:
    return coef.toarray() if sp.issparse(coef) else np.asarray(coef)


@pytest.mark.parametrize("method_id", METHODS)
def test_clusters_a_union_of_subspaces(registry, union, method_id):
    X, y = union
    estimator = _estimator(registry, method_id).fit(X)
    assert clustering_accuracy(y, estimator.labels_) >= 0.95
    assert estimator.coef_.shape == (len(y), len(y))
    assert isinstance(estimator.n_iter_, int) and estimator.n_iter_ >= 1


@pytest.mark.parametrize("method_id", SELF_EXCLUDING)
def test_no_point_represents_itself(registry, union, method_id):
    X, _ = union
    coef = _dense(_estimator(registry, method_id).fit(X).coef_)
    assert np.all(np.diag(coef) == 0)
    assert np.count_nonzero(coef) > 0


def _reference_ssc_admm(Y, alpha, n_iter):
    """The SSC appendix's ADMM with admmLasso_mat_func's settings, dense inverse."""
    n = Y.shape[1]
    G = Y.T @ Y
    off = np.abs(G - np.diag(np.diag(G)))
    mu1, mu2 = alpha / off.max(axis=0).min(), alpha
    A = np.linalg.inv(mu1 * G + mu2 * np.eye(n))
    C = np.zeros((n, n))
    Lam = np.zeros((n, n))
    for _ in range(n_iter):
        Z = A @ (mu1 * G + mu2 * (C - Lam / mu2))
        V = Z + Lam / mu2
        C = np.maximum(np.abs(V) - 1 / mu2, 0) * np.sign(V)
        C -= np.diag(np.diag(C))
        Lam = Lam + mu2 * (Z - C)
    return C


@pytest.mark.parametrize("D", [30, 400])  # D < n (Woodbury side) and D > n (Gram factor)
@pytest.mark.parametrize("row_block", [None, 16])  # one block; 8 blocks, the last one short
def test_ssc_admm_reproduces_the_reference_iterates(registry, monkeypatch, D, row_block):
    X, _ = union_of_subspaces(3, 4, D, 40, noise=0.01, unit_norm=True, seed=1)
    ssc = _module(registry, "ssc")
    if row_block is not None:
        monkeypatch.setattr(ssc, "ROW_BLOCK", row_block)
    Y = ssc.gram_factor(X)
    lam = 20.0 / ssc.coherence_floor(Y)
    C, n_iter, _ = ssc.ssc_admm(Y, lam, 20.0, tol=1e-12, max_iter=30, dtype=np.float64)
    assert n_iter == 30
    reference = _reference_ssc_admm(X.T.astype(np.float64), 20.0, 30)
    np.testing.assert_allclose(C.toarray(), reference, atol=1e-9)


def test_ssc_reaches_the_lasso_optimum(registry, union):
    X, _ = union
    X64 = X.astype(np.float64)
    short = _estimator(registry, "ssc", max_iter=10, dtype="float64").fit(X64)
    full = _estimator(registry, "ssc", dtype="float64").fit(X64)
    assert full.objective_ < short.objective_
    # the same problem column by column: ‖c‖₁ + λ/2‖x − Xc‖², i.e. Lasso alpha = 1/(λD)
    n, D = X64.shape
    optimum = 0.0
    for j in range(n):
        others = np.delete(np.arange(n), j)
        lasso = Lasso(alpha=1 / (full.lambda_ * D), fit_intercept=False, tol=1e-9, max_iter=100_000)
        c = lasso.fit(X64[others].T, X64[j]).coef_
        optimum += np.abs(c).sum() + 0.5 * full.lambda_ * np.sum((X64[j] - X64[others].T @ c) ** 2)
    assert optimum <= full.objective_ <= optimum * (1 + 2e-3)


def test_ensc_orgen_finds_the_full_elastic_net_solution(registry, union):
    X, _ = union
    X64 = X.astype(np.float64)
    # a small working set forces several oracle-guided iterations
    estimator = _estimator(registry, "ensc", support_size=10, n_nonzero=300).fit(X64)
    assert estimator.n_iter_ > 1 and estimator.converged_
    coef = _dense(estimator.coef_)
    n, D = X64.shape
    G = np.abs(X64 @ X64.T)
    np.fill_diagonal(G, 0)
    for j in range(0, n, 15):
        gamma = estimator.gamma * estimator.tau / G[j].max()
        others = np.delete(np.arange(n), j)
        # λ‖c‖₁ + (1−λ)/2‖c‖² + γ/2‖x − Xc‖² is scikit-learn's elastic net scaled by γD
        net = ElasticNet(
            alpha=1 / (gamma * D),
            l1_ratio=estimator.tau,
            fit_intercept=False,
            tol=1e-12,
            max_iter=100_000,
        ).fit(X64[others].T, X64[j])
        np.testing.assert_allclose(coef[others, j], net.coef_, atol=1e-7)


def test_omp_takes_at_most_kmax_atoms_never_itself(registry, union):
    X, _ = union
    coef = _dense(_estimator(registry, "ssc-omp", kmax=3, eps=0.0).fit(X).coef_)
    assert np.all(np.count_nonzero(coef, axis=0) == 3)
    assert np.all(np.diag(coef) == 0)


def test_omp_matches_sequential_orthogonal_matching_pursuit(registry, union):
    X, _ = union
    X64 = X.astype(np.float64)
    ssc_omp = _module(registry, "ssc-omp")
    Ct, sizes, _ = ssc_omp.batched_omp(X64, kmax=6, eps=1e-3, dtype=np.float64, block=64)
    for j in range(0, X64.shape[0], 20):
        residual, support = X64[j].copy(), []
        for _ in range(6):
            correlation = np.abs(X64 @ residual)
            correlation[[j, *support]] = -1
            support.append(int(np.argmax(correlation)))
            c = np.linalg.lstsq(X64[support].T, X64[j], rcond=None)[0]
            residual = X64[j] - X64[support].T @ c
            if np.linalg.norm(residual) <= 1e-3 * np.linalg.norm(X64[j]):
                break
        assert sizes[j] == len(support)
        expected = np.zeros(X64.shape[0])
        expected[support] = c
        np.testing.assert_allclose(Ct[j].toarray().ravel(), expected, atol=1e-10)


def test_omp_stops_once_the_residual_vanishes(registry):
    X, _ = union_of_subspaces(4, 3, 20, 30, noise=0.0, unit_norm=True, seed=2)
    estimator = _estimator(registry, "ssc-omp", kmax=10, eps=1e-6).fit(X.astype(np.float64))
    assert estimator.converged_ and estimator.n_iter_ == 3  # d atoms span each point


def test_lrr_is_low_rank_on_noiseless_data(registry):
    # 4 independent 3-dim subspaces in R^30: the LRR solution is the shape interaction VVᵀ
    X, y = union_of_subspaces(4, 3, 30, 25, noise=0.0, unit_norm=True, seed=3)
    estimator = _estimator(registry, "lrr", lam=10.0, n_clusters=4).fit(X.astype(np.float64))
    singular = np.linalg.svd(estimator.coef_.astype(np.float64), compute_uv=False)
    assert np.sum(singular > 1e-3 * singular[0]) == 12
    assert estimator.converged_
    assert clustering_accuracy(y, estimator.labels_) == 1.0
    across = estimator.coef_[y[:, None] != y[None, :]]
    assert np.abs(across).max() < 1e-3 * np.abs(estimator.coef_).max()


def _reference_lrr(X, lam, n_iter):
    """Transcription of the LRR code's solve_lrr + inexact_alm_lrr_l21 (explicit SVDs);
    returns Z = QZ′ and the last iteration's J and E."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    Q = Vt.T
    A = X @ Q
    m, n = A.shape[1], X.shape[1]
    mu, inv_a = 1e-6, np.linalg.inv(A.T @ A + np.eye(m))
    Z, E = np.zeros((m, n)), np.zeros_like(X)
    Y1, Y2 = np.zeros_like(X), np.zeros((m, n))
    for _ in range(n_iter):
        u, sigma, vt = np.linalg.svd(Z + Y2 / mu, full_matrices=False)
        keep = sigma > 1 / mu
        J = (u[:, keep] * (sigma[keep] - 1 / mu)) @ vt[keep]
        Z = inv_a @ (A.T @ X - A.T @ E + J + (A.T @ Y1 - Y2) / mu)
        T = X - A @ Z + Y1 / mu
        norms = np.linalg.norm(T, axis=0)
        E = T * np.where(norms > lam / mu, 1 - lam / mu / np.maximum(norms, 1e-300), 0)
        Y1 += mu * (X - A @ Z - E)
        Y2 += mu * (Z - J)
        mu = min(1e10, 1.1 * mu)
    return Q @ Z, J, E


def test_lrr_reproduces_the_reference_iterates(registry, union):
    X, _ = union
    lrr = _module(registry, "lrr")
    solution = lrr.lrr_inexact_alm(X.astype(np.float64), lam=0.5, tol=1e-30, max_iter=150)
    reference, _, _ = _reference_lrr(X.T.astype(np.float64), 0.5, 150)
    np.testing.assert_allclose(solution.Q @ solution.Z, reference, atol=1e-9)


@pytest.mark.parametrize("lam", [0.05, 0.5, 5.0])
def test_lrr_closed_form_phase_is_the_reference_steps_while_j_and_e_are_zero(registry, union, lam):
    """The solver's first iterations run on r numbers while the thresholdings leave J
    and E at zero; there they equal the reference's steps, and the phase ends exactly at
    the first iteration where the reference's J or E becomes nonzero."""
    X, _ = union
    lrr = _module(registry, "lrr")
    columns = X.T.astype(np.float64)
    _, s, Vt = np.linalg.svd(columns, full_matrices=False)
    phase = lrr._DiagonalPhase(s, Vt, lam)
    n_iter, converged = phase.run(lrr._Penalty(1e-6, 1.1, 1e10), tol=1e-8, max_iter=1000)
    assert n_iter > 50 and not converged
    reference, J, E = _reference_lrr(columns, lam, n_iter)
    assert not J.any() and not E.any()
    np.testing.assert_allclose(Vt.T @ (phase.z[:, None] * Vt), reference, rtol=0, atol=1e-12)
    _, J, E = _reference_lrr(columns, lam, n_iter + 1)
    assert J.any() or E.any()


def test_lrr_result_does_not_depend_on_its_column_blocks_or_threads(registry, union, monkeypatch):
    """The ALM's elementwise steps run over column blocks on worker threads; every entry
    is the same expression whatever the blocking, so the iterates are bit-identical."""
    X, _ = union
    lrr = _module(registry, "lrr")
    X = X.astype(np.float64)
    whole = lrr.lrr_inexact_alm(X, lam=0.5, workers=1)
    monkeypatch.setattr(lrr, "COLUMN_BLOCK_BYTES", 8 * X.shape[1] * 7)  # 7 columns a block
    blocked = lrr.lrr_inexact_alm(X, lam=0.5, workers=3)
    assert blocked.n_iter == whole.n_iter and blocked.converged
    assert np.array_equal(blocked.Z, whole.Z) and blocked.objective == whole.objective
    monkeypatch.setattr(lrr, "AFFINITY_BLOCK_BYTES", 4 * len(X) * 3)  # 3 rows a block
    np.testing.assert_array_equal(
        lrr.shape_interaction_affinity(blocked.Q, blocked.Z, 4),
        np.abs(_plain_affinity(whole.Q, whole.Z, 4)),
    )


def _plain_affinity(Q: np.ndarray, Z: np.ndarray, power: int) -> np.ndarray:
    """The shape-interaction affinity in one piece, the way it read before blocking."""
    w, u = scipy.linalg.eigh(Z @ Z.T)
    sigma = np.sqrt(np.maximum(w, 0.0))
    keep = sigma > 1e-4 * sigma.max()
    U = Q @ (u[:, keep] * np.sqrt(sigma[keep]))
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    U = (U / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return np.power(U @ U.T, power)


@pytest.mark.parametrize("method_id", METHODS)
def test_sklearn_contract(registry, method_id):
    estimator = _estimator(registry, method_id)
    params = estimator.get_params()
    assert params["n_clusters"] == 5 and params["random_state"] == 0
    twin = clone(estimator)
    assert twin is not estimator and twin.get_params() == params
    twin.set_params(n_clusters=3)
    assert twin.n_clusters == 3 and estimator.n_clusters == 5


@pytest.mark.parametrize("method_id", METHODS)
def test_normalize_points_is_the_stated_preprocessing(registry, union, method_id):
    """With normalize_points, rescaled points give what their unit-norm versions give."""
    X, _ = union
    scales = np.random.default_rng(0).uniform(0.1, 50.0, size=(len(X), 1))
    rescaled = (X * scales).astype(X.dtype)
    unit = rescaled / np.linalg.norm(rescaled, axis=1, keepdims=True)
    scaled = _estimator(registry, method_id, normalize_points=True).fit(rescaled)
    on_unit = _estimator(registry, method_id, normalize_points=False).fit(unit)
    np.testing.assert_allclose(_dense(scaled.coef_), _dense(on_unit.coef_), atol=1e-5)
    np.testing.assert_array_equal(scaled.labels_, on_unit.labels_)
    as_given = _estimator(registry, method_id, normalize_points=False).fit(rescaled)
    assert not np.allclose(_dense(as_given.coef_), _dense(on_unit.coef_), atol=1e-3)


def test_normalize_points_defaults_follow_the_authors_code(registry):
    """SSC-OMP normalises (the authors' MATLAB demos); SSC and EnSC take data as given; LRR
    takes the paper's datasets as given (their λ was chosen at their scale) and scales data
    without settings of their own to unit norm, where its '*' λ was chosen."""
    for kind in ("images", "text"):
        defaults = {
            m: registry.method(m).params_for("x", kind)["normalize_points"] for m in METHODS
        }
        assert {m: p.value for m, p in defaults.items()} == {
            "ssc": False,
            "ensc": False,
            "ssc-omp": True,
            "lrr": False,
        }
        assert all(p.source.startswith("reference code:") for p in defaults.values())
    lrr_any = registry.method("lrr").params_for("*")["normalize_points"]
    assert lrr_any.value is True and lrr_any.source.startswith("transfer:mnist+omniglot:")


BAD_PARAMS = [
    ("ssc", {"alpha": 0.5}, "alpha must be > 1"),
    ("ssc", {"dtype": "float16"}, "dtype must be one of"),
    ("ssc", {"max_iter": 0}, "max_iter must be a positive integer"),
    ("ensc", {"tau": 1.0}, r"tau \(the paper's λ\) must be in \(0, 1\)"),
    ("ensc", {"gamma": 0.5}, "gamma must be > 1"),
    ("ensc", {"support_size": 0}, "support_size must be a positive integer"),
    ("ssc-omp", {"kmax": 0}, "kmax must be a positive integer"),
    ("ssc-omp", {"eps": -1.0}, "eps must be >= 0"),
    ("lrr", {"lam": -1.0}, "lam .* must be > 0"),
    ("lrr", {"power": 0}, "power must be a positive integer"),
    ("ssc-omp", {"normalize_points": "yes"}, "normalize_points must be True or False"),
]


@pytest.mark.parametrize(("method_id", "override", "message"), BAD_PARAMS)
def test_bad_parameters_are_refused_with_a_clear_message(
    registry, union, method_id, override, message
):
    X, _ = union
    with pytest.raises(ValueError, match=message):
        _estimator(registry, method_id, **override).fit(X)


@pytest.mark.parametrize("method_id", ("ssc", "ensc"))
def test_a_point_orthogonal_to_all_others_is_refused(registry, method_id):
    X = np.eye(6, dtype=np.float32)
    with pytest.raises(ValueError, match="orthogonal to all others"):
        _estimator(registry, method_id, n_clusters=2).fit(X)


CITATIONS = {
    "ssc": "Elhamifar & Vidal",
    "ensc": "Oracle Based Active Set Algorithm",
    "ssc-omp": "Sparse Subspace Clustering by Orthogonal Matching",
    "lrr": "Low-Rank Representation",
}


@pytest.mark.parametrize("method_id", METHODS)
def test_declaration(registry, method_id):
    info = registry.method(method_id)
    assert info.kind == "paper" and info.view == "vectors"
    for dataset_id in ("*", "bbc", "20newsgroups", "fashion-mnist", "notmnist", "synthetic"):
        params = info.params_for(dataset_id)
        assert params and all(p.source for p in params.values()), "every value needs a source"
    assert 0 < info.memory_mb(1000, 512) < info.memory_mb(10_000, 512) <= 4096
    assert CITATIONS[method_id] in info.estimator_class.__doc__


def test_duplicate_points_split_the_affinity_graph_and_are_warned_about(registry):
    """SSC-OMP writes a duplicated outlier with its twin alone (the notMNIST 10,000 cell)."""
    X, _ = union_of_subspaces(5, 4, 30, 60, noise=0.0, unit_norm=True, seed=0)
    assert _estimator(registry, "ssc-omp").fit(X).fit_info_["affinity_components"] <= 5
    outliers = np.random.default_rng(0).standard_normal((3, X.shape[1])).astype(X.dtype)
    doubled = np.vstack([X, outliers, outliers])  # three points off the subspaces, twice each
    with pytest.warns(RuntimeWarning, match="connected components for 5 clusters"):
        split = _estimator(registry, "ssc-omp").fit(doubled)
    assert split.fit_info_["affinity_components"] >= 5 + 3
