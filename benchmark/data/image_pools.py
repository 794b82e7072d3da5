"""Image datasets as cached pools: raw uint8 images → 1×S×S float32 in [0, 1], once.

A pool (every image a dataset can draw from, with labels) is preprocessed once per
(raw files, settings) and kept in the feature cache; a run then draws its indices from
it with the run seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from benchmark.data.cache import cached_arrays
from benchmark.data.checks import CorruptDataError, verify_counts
from benchmark.data.idx import read_idx
from benchmark.data.images import INTERPOLATION, preprocess_images
from benchmark.plugins import DataBundle


def read_idx_pair(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    expected_counts: Mapping[int, int] | None,
    fix: str,
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, H, W), labels int64) from an idx image file and its label file.

    ``expected_counts`` (label → count) is checked when given; ``fix`` says what to do
    when the content is wrong.
    """
    images, labels = read_idx(images_path), read_idx(labels_path).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise CorruptDataError(
            f"{images_path} and {labels_path} do not match: images {images.shape}, "
            f"labels {labels.shape}. {fix}"
        )
    if expected_counts is not None:
        found = np.unique(labels, return_counts=True)
        verify_counts(
            labels_path,
            {str(k): int(v) for k, v in zip(*found, strict=True)},
            {str(k): v for k, v in expected_counts.items()},
            fix,
        )
    return images, labels


def read_idx_parts(
    parts: Sequence[tuple[str | os.PathLike, str | os.PathLike, Mapping[int, int] | None]],
    fix: str,
) -> dict[str, np.ndarray]:
    """Read several (images, labels, expected counts) idx pairs (e.g. train and test) with
    :func:`read_idx_pair` and stack them into one ``{"images", "labels"}`` pool."""
    pairs = [read_idx_pair(images, labels, counts, fix) for images, labels, counts in parts]
    return {
        "images": np.concatenate([pair[0] for pair in pairs]),
        "labels": np.concatenate([pair[1] for pair in pairs]),
    }


def check_interpolation(interpolation: str) -> None:
    """``ValueError`` unless ``interpolation`` is the one :mod:`benchmark.data.images` does."""
    if interpolation != INTERPOLATION:
        raise ValueError(
            f"interpolation {interpolation!r} is not implemented; use {INTERPOLATION!r}"
        )


def cached_image_pool(
    name: str,
    files: Mapping[str, str],
    settings: Mapping[str, Any],
    read: Callable[[], Mapping[str, np.ndarray]],
) -> tuple[dict[str, np.ndarray], str]:
    """(arrays, cache digest) of a preprocessed image pool.

    ``read()`` returns the raw pool: ``images`` uint8 (N, H, W) gray or (N, H, W, 3) RGB,
    integer ``labels`` and any other arrays to keep (kept as they are). ``images`` come
    back as (N, S, S) float32 in [0, 1]. ``files`` maps each raw file's role to its
    sha256 (or another fingerprint); with ``settings``, which must hold ``image_size`` and
    every other setting ``read`` depends on, it forms the cache key.
    """

    def build() -> dict[str, np.ndarray]:
        raw = dict(read())
        raw["images"] = preprocess_images(raw["images"], int(settings["image_size"]))
        raw["labels"] = np.asarray(raw["labels"], dtype=np.int64)
        return raw

    key = {"files": dict(files), "interpolation": INTERPOLATION, **settings}
    return cached_arrays(name, key, build)


def image_bundle(
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    n_clusters: int,
    info: Mapping[str, Any],
) -> DataBundle:
    """A :class:`DataBundle` of the pool's ``indices``: images (n, 1, S, S), X their pixels."""
    chosen = np.array(images[indices], dtype=np.float32)
    return DataBundle(
        X=chosen.reshape(len(chosen), -1),
        y=np.array(labels[indices], dtype=np.int64),
        n_clusters=n_clusters,
        images=chosen[:, None],
        info=dict(info),
    )
