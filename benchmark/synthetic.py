"""Synthetic unions of linear subspaces (tests, the ``synthetic`` dataset, ``perf``)."""

from __future__ import annotations

import numpy as np


def union_of_subspaces(
    n_subspaces: int,
    subspace_dim: int,
    ambient_dim: int,
    points_per_subspace: int,
    noise: float = 0.0,
    unit_norm: bool = True,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample points from ``n_subspaces`` random ``subspace_dim``-dimensional subspaces.

    Each subspace has a random orthonormal basis in R^ambient_dim; coefficients are
    standard normal; points are scaled to unit norm when ``unit_norm``, then Gaussian
    noise of standard deviation ``noise / sqrt(ambient_dim)`` per coordinate is added
    (so the noise vector has norm about ``noise``). Returns ``X`` (n×D float32, samples
    in rows, grouped by subspace) and integer labels.
    """
    if subspace_dim > ambient_dim:
        raise ValueError(f"subspace_dim ({subspace_dim}) cannot exceed ambient_dim ({ambient_dim})")
    if min(n_subspaces, subspace_dim, points_per_subspace) < 1:
        raise ValueError("n_subspaces, subspace_dim and points_per_subspace must be >= 1")
    rng = np.random.default_rng(seed)
    blocks, labels = [], []
    for k in range(n_subspaces):
        basis, _ = np.linalg.qr(rng.standard_normal((ambient_dim, subspace_dim)))
        points = rng.standard_normal((points_per_subspace, subspace_dim)) @ basis.T
        if unit_norm:
            points /= np.linalg.norm(points, axis=1, keepdims=True)
        blocks.append(points)
        labels.append(np.full(points_per_subspace, k))
    X = np.concatenate(blocks)
    if noise > 0:
        X = X + rng.standard_normal(X.shape) * (noise / np.sqrt(ambient_dim))
    return X.astype(np.float32), np.concatenate(labels).astype(np.int64)
