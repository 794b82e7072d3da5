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
        for row, (points, values) in enumerate(found):
            expected = np.flatnonzero(exact[row] > threshold)
            expected = expected[~np.isin(expected, [3, 5])]
            np.testing.assert_array_equal(points, expected)
            np.testing.assert_allclose(values, exact[row, expected], rtol=1e-14)
        assert (7 in found[0][0]) == (offset < 0)


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
