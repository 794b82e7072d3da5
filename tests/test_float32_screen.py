"""EnSC's float32 screen: the oracle's and the coherences' decisions are float64's."""

from __future__ import annotations

import numpy as np

from benchmark.registry import PROJECT_ROOT, load_module

ensc = load_module(PROJECT_ROOT / "methods" / "estimators" / "ensc.py")


def _data(n: int = 400, D: int = 64, seed: int = 0) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, D))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_above_returns_exactly_the_float64_violators_even_at_near_ties():
    X = _data()
    V = 3.0 * _data(n=20, seed=1)
    exact = np.abs(V @ X.T)
    # thresholds a hair below and above existing values: float32 alone misclassifies these
    for offset in (-1e-12, 1e-12):
        threshold = float(exact[0, 7]) + offset
        excluded = np.tile([3, 5, len(X)], (len(V), 1))  # len(X): padding, ignored
        found = ensc.Float32Screen(X).above(V, threshold, excluded)
        for row, violators in enumerate(found):
            expected = np.flatnonzero(exact[row] > threshold)
            expected = expected[~np.isin(expected, [3, 5])]
            np.testing.assert_array_equal(violators.points, expected)
            error = np.abs(violators.values - exact[row, expected])
            assert np.all(error <= violators.margin)
        assert (7 in found[0].points) == (offset < 0)


def test_largest_ranks_violators_as_float64_does_even_below_float32_resolution():
    X = _data()
    # near-duplicates: their values differ below float32, so float32 alone ties them
    X[21] = X[20] * (1 + 3e-9)
    X[31] = X[30] * (1 - 3e-9)
    v = 3.0 * X[20]
    screen = ensc.Float32Screen(X)
    (violators,) = screen.above(v[None], 0.5, np.array([[len(X)]]))
    exact = np.abs(X @ v)
    assert violators.points.size > 6
    for size in (1, 2, 3, violators.points.size - 1):
        expected = violators.points[np.argsort(-exact[violators.points], kind="stable")[:size]]
        np.testing.assert_array_equal(screen.largest(v, violators, size), expected)
    # all of them fit: kept in index order, as the reference code adds them
    np.testing.assert_array_equal(
        screen.largest(v, violators, violators.points.size), violators.points
    )
    assert screen.largest(v, violators, 0).size == 0


def test_orgen_result_does_not_depend_on_its_worker_threads():
    X = _data(n=700, D=24, seed=3)  # three point blocks, several rounds at support size 8
    runs = []
    for workers in (1, 2):
        solver = ensc.OrgenSolver(X, gamma=20.0, tau=0.9, support_size=8, workers=workers)
        solver.run(40)
        runs.append(solver)
    one, two = runs
    assert one.n_outer > 2 and one.done.all()
    assert one.n_outer == two.n_outer
    np.testing.assert_array_equal(one.objective, two.objective)
    assert (one.coefficients(50) != two.coefficients(50)).nnz == 0


def test_top_matches_a_float64_ranking_and_its_maximum():
    X = _data()
    X[11] = X[10] * (1 + 1e-9)  # a near-duplicate: its two coherences differ below float32
    peak, support = ensc.Float32Screen(X).top(X, 25, np.arange(len(X)))
    coherence = np.abs(X @ X.T)
    np.fill_diagonal(coherence, -1)
    for j in range(len(X)):
        expected = np.argsort(-coherence[j], kind="stable")[:25]
        assert set(support[j]) == set(expected)
        assert abs(peak[j] - coherence[j].max()) <= 1e-14 * peak[j]  # summation order
