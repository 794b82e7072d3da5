"""Drawing a subsample of a dataset's pool with the run seed."""

from __future__ import annotations

import numpy as np


def balanced_indices(labels: np.ndarray, n_points: int, n_classes: int, seed: int) -> np.ndarray:
    """Indices of ``n_points`` samples, ``n_points / n_classes`` from each class 0..K-1.

    Each class's samples are drawn without replacement by ``numpy.random.default_rng(seed)``;
    the indices come back sorted (pool order). ``ValueError`` when ``n_points`` is not a
    positive multiple of ``n_classes`` or a class has too few samples.
    """
    labels = np.asarray(labels)
    if n_points < 1 or n_points % n_classes:
        raise ValueError(
            f"size {n_points} cannot be split into equal counts over {n_classes} classes; "
            f"pick a positive multiple of {n_classes}"
        )
    per_class = n_points // n_classes
    counts = np.bincount(labels, minlength=n_classes)
    if counts.min() < per_class:
        raise ValueError(
            f"size {n_points} needs {per_class} samples per class but the pool has only "
            f"{int(counts.min())} in its smallest class ({int(counts.sum())} in all); "
            f"pick a size of at most {int(counts.min()) * n_classes}"
        )
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == label), size=per_class, replace=False)
        for label in range(n_classes)
    ]
    return np.sort(np.concatenate(chosen))


def subset_indices(n_total: int, n_points: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n_points`` of ``n_total`` samples drawn by the seed (all if equal)."""
    if not 1 <= n_points <= n_total:
        raise ValueError(f"size {n_points} is not between 1 and the pool's {n_total} samples")
    if n_points == n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n_points, replace=False))


REPORTED_SEEDS = (0, 1, 2)
"""Seeds of the reported cells (../shared/PROTOCOL.md: "Seeds and aggregation")."""
TUNING_SEEDS = (100, 101, 102)
"""Seeds of tuning samples: never reported, used to choose settings with labels."""


def held_out_indices(
    labels: np.ndarray, n_classes: int, sizes: tuple[int, ...], seeds: tuple[int, ...]
) -> np.ndarray:
    """Sorted indices of the pool points that no balanced sample of ``sizes`` × ``seeds``
    contains (what a tuning sample may be drawn from without seeing an evaluated point)."""
    taken = np.zeros(len(labels), dtype=bool)
    for size in sizes:
        for seed in seeds:
            taken[balanced_indices(labels, size, n_classes, seed)] = True
    return np.flatnonzero(~taken)
