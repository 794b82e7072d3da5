"""Synthetic unions of linear subspaces (tests, the ``synthetic`` dataset, ``perf``)."""

from __future__ import annotations

import numpy as np

NOISE_MODELS = ("norm", "authors")
"""How ``noise`` is read: see :func:`union_of_subspaces`."""

NOISE_ROW_BLOCK = 4096
"""Rows of noise drawn at once (the same draws as one n×D draw, without its n×D temporary)."""


def noise_sigma(noise: float, ambient_dim: int, noise_model: str) -> float:
    """Standard deviation per coordinate of the Gaussian noise of ``noise_model``."""
    if noise_model not in NOISE_MODELS:
        raise ValueError(
            f"noise_model must be one of {', '.join(map(repr, NOISE_MODELS))}, got {noise_model!r}"
        )
    return float(noise) if noise_model == "authors" else float(noise) / np.sqrt(ambient_dim)


def union_of_subspaces(
    n_subspaces: int,
    subspace_dim: int,
    ambient_dim: int,
    points_per_subspace: int,
    noise: float = 0.0,
    unit_norm: bool = True,
    seed: int | None = 0,
    *,
    noise_model: str = "norm",
) -> tuple[np.ndarray, np.ndarray]:
    """Sample points from ``n_subspaces`` random ``subspace_dim``-dimensional subspaces.

    Each subspace has a random orthonormal basis in R^ambient_dim; coefficients are
    standard normal; points are scaled to unit norm when ``unit_norm``. Then Gaussian
    noise is added, read according to ``noise_model``:

    * ``"norm"``: standard deviation ``noise / sqrt(ambient_dim)`` per coordinate, so the
      noise vector has norm about ``noise``; rows are not renormalised.
    * ``"authors"``: standard deviation ``noise`` per coordinate (norm about
      ``noise·sqrt(ambient_dim)``), as the generator of You et al.'s reference code
      (ChongYou/subspace-clustering, ``gen_union_of_subspaces``) draws it on unit-norm
      points; rows are then scaled back to unit norm, as their methods do before fitting.
      Needs ``unit_norm``.

    Returns ``X`` (n×D float32, samples in rows, grouped by subspace) and integer labels.
    """
    if subspace_dim > ambient_dim:
        raise ValueError(f"subspace_dim ({subspace_dim}) cannot exceed ambient_dim ({ambient_dim})")
    if min(n_subspaces, subspace_dim, points_per_subspace) < 1:
        raise ValueError("n_subspaces, subspace_dim and points_per_subspace must be >= 1")
    sigma = noise_sigma(noise, ambient_dim, noise_model)
    if noise_model == "authors" and not unit_norm:
        raise ValueError(
            "noise_model='authors' draws unit-norm points and renormalises them after the "
            "noise; set unit_norm=True, or use noise_model='norm'"
        )
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
    del blocks
    if noise > 0:
        _add_noise(X, sigma, rng)
        if noise_model == "authors":
            X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), np.concatenate(labels).astype(np.int64)


def _add_noise(X: np.ndarray, sigma: float, rng: np.random.Generator) -> None:
    """X += N(0, sigma²) per entry, in place, drawn a block of rows at a time."""
    buffer = np.empty((min(NOISE_ROW_BLOCK, X.shape[0]), X.shape[1]))
    for r0 in range(0, X.shape[0], NOISE_ROW_BLOCK):
        chunk = buffer[: X[r0 : r0 + NOISE_ROW_BLOCK].shape[0]]
        rng.standard_normal(out=chunk)
        chunk *= sigma
        X[r0 : r0 + NOISE_ROW_BLOCK] += chunk
