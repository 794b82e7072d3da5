"""What a deep fit keeps for figures: LRSC's Figure 2 (t-SNE of the latent codes,
coloured by class) and Figure 3 (the affinity matrix, points sorted by class).

The worker writes ``OUT/figure-data/<task_id>.npz`` (compressed, atomically) beside the
record of every ``ok`` task whose estimator keeps ``latent_codes_`` (the deep
self-expressive methods). It holds a class-stratified sample of at most
:data:`MAX_POINTS` points, drawn with the task's seed:

* ``indices`` (int32): the sampled points' rows in the task's data, increasing;
* ``labels_true``, ``labels_pred`` (int16): their classes and predicted clusters;
* ``codes`` (float16, m × ≤ :data:`MAX_DIMS`): their latent codes, centred, projected on
  their leading principal directions and divided by ``codes_scale`` (absent when the fit
  kept no codes: a coefficient cache entry written before codes were kept);
* ``codes_variance_kept`` (float32): the fraction of the codes' variance those directions
  hold;
* ``affinity`` (uint8, m × m): the affinity the method clustered (½(|C| + |Cᵀ|), or its
  DSC-Net post-processing for the ``post`` readout) among the sampled points, each row
  divided by its largest entry, times 255;
* ``n_points`` (the size of the task's data) and ``format``.

Under :data:`MAX_BYTES` whatever the data: 500² affinity bytes + 500 × 50 float16 codes
and the small arrays stay below it even uncompressed.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmark.atomic import atomic_write_bytes

FIGURE_DATA_DIR = "figure-data"
FIGURE_DATA_FORMAT = 1
MAX_POINTS = 500
MAX_DIMS = 50
MAX_BYTES = 300 * 1024


def figure_data_path(out_dir: str | os.PathLike, task_id: str) -> Path:
    """Where the figure data of ``task_id`` lives in the output folder ``out_dir``."""
    return Path(out_dir) / FIGURE_DATA_DIR / f"{task_id}.npz"


def stratified_sample(labels: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    """Increasing indices of at most ``max_points`` points drawn with ``seed``: one of
    each class (when there are fewer classes than points), the rest shared in proportion
    to the classes' sizes (largest remainders round up)."""
    labels = np.asarray(labels)
    n = len(labels)
    if n <= max_points:
        return np.arange(n)
    classes, counts = np.unique(labels, return_counts=True)
    first = np.ones_like(counts) if len(classes) <= max_points else np.zeros_like(counts)
    rest = counts - first
    quota = rest * (max_points - int(first.sum())) / rest.sum()
    take = np.floor(quota).astype(int)
    leftover = max_points - int(first.sum()) - int(take.sum())
    take[np.argsort(take - quota, kind="stable")[:leftover]] += 1
    take += first
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == label), size=k, replace=False)
        for label, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def principal_codes(codes: np.ndarray, max_dims: int = MAX_DIMS) -> tuple[np.ndarray, float]:
    """``codes`` centred and projected on their ≤ ``max_dims`` leading principal
    directions, and the fraction of the variance kept."""
    centred = np.asarray(codes, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    left, singular, _ = np.linalg.svd(centred, full_matrices=False)
    dims = min(max_dims, len(singular))
    total = float(np.sum(singular**2))
    kept = float(np.sum(singular[:dims] ** 2)) / total if total > 0 else 1.0
    return left[:, :dims] * singular[:dims], kept


def quantised_affinity(affinity: np.ndarray | sp.spmatrix, indices: np.ndarray) -> np.ndarray:
    """The affinity among ``indices``, each row divided by its largest entry, as uint8 (0-255)."""
    if sp.issparse(affinity):
        block = sp.csr_matrix(affinity)[indices][:, indices].toarray()
    else:
        block = np.asarray(affinity)[np.ix_(indices, indices)]
    block = np.abs(block.astype(np.float64))
    row_max = block.max(axis=1, keepdims=True)
    scaled = np.divide(block, row_max, out=np.zeros_like(block), where=row_max > 0)
    return np.rint(255 * scaled).astype(np.uint8)


def figure_data(estimator: Any, labels_true: np.ndarray, seed: int) -> dict[str, np.ndarray] | None:
    """The figure data of a fitted estimator, or ``None`` when it keeps no latent codes
    (only estimators with a ``latent_codes_`` attribute have figure data)."""
    if not hasattr(estimator, "latent_codes_"):
        return None
    labels_true = np.asarray(labels_true)
    indices = stratified_sample(labels_true, MAX_POINTS, seed)
    data: dict[str, np.ndarray] = {
        "format": np.array(FIGURE_DATA_FORMAT),
        "n_points": np.array(len(labels_true)),
        "indices": indices.astype(np.int32),
        "labels_true": labels_true[indices].astype(np.int16),
        "labels_pred": np.asarray(estimator.labels_)[indices].astype(np.int16),
        "affinity": quantised_affinity(estimator.affinity_matrix_, indices),
    }
    if estimator.latent_codes_ is not None:
        projected, kept = principal_codes(np.asarray(estimator.latent_codes_)[indices])
        scale = float(np.abs(projected).max()) or 1.0
        data["codes"] = (projected / scale).astype(np.float16)
        data["codes_scale"] = np.array(scale, dtype=np.float32)
        data["codes_variance_kept"] = np.array(kept, dtype=np.float32)
    return data


def save_figure_data(path: str | os.PathLike, data: dict[str, np.ndarray]) -> Path:
    """Write ``data`` as a compressed ``.npz`` atomically (a crash leaves no partial file)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **data)
    return atomic_write_bytes(path, buffer.getvalue())


def load_figure_data(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a figure-data file (``FileNotFoundError`` when there is none)."""
    with np.load(path, allow_pickle=False) as archive:
        data = {name: archive[name] for name in archive.files}
    if int(data.get("format", -1)) != FIGURE_DATA_FORMAT:
        raise ValueError(
            f"{path} has figure-data format {data.get('format')}, this code reads "
            f"{FIGURE_DATA_FORMAT}: rerun its task to write it again"
        )
    return data
