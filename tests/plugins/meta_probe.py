"""Test plugins for meta data reaching a method (``benchmark.meta``).

Load them with ``--plugins tests/plugins``.

* datasets ``meta-blobs`` (labelled Gaussian blobs, no files) and ``meta-missing``
  (whose files are never there: its load raises ``MissingDataError`` saying how to get
  them);
* method ``meta-probe``: k-means that writes what ``meta_data`` it was handed into the
  JSON file ``trace``; on ``synthetic`` it prefers ``meta-missing`` and falls back to
  ``meta-blobs`` in the target's dimension;
* ``meta-probe-missing``: the same, with ``meta-missing`` as its only source;
* ``meta-probe-deaf``: declares a meta source but its estimator takes no ``meta_data``.
"""

from __future__ import annotations

import json

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans

from benchmark.data import MissingDataError
from benchmark.meta import MetaSource
from benchmark.plugins import DataBundle, DatasetInfo, MethodInfo, Param


def load_blobs(n_points: int, seed: int, n_classes: int, dim: int) -> DataBundle:
    """``n_points`` points around ``n_classes`` random centres in R^dim."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_points) % n_classes
    X = (5.0 * rng.standard_normal((n_classes, dim)))[y] + rng.standard_normal((n_points, dim))
    return DataBundle(X.astype(np.float32), y, n_classes, info={"generator": "blobs"})


def load_missing(n_points: int, seed: int) -> DataBundle:
    raise MissingDataError(
        "dataset file meta-missing/archive.zip not found; Fix: run "
        "`python -m benchmark fetch --datasets meta-missing`"
    )


BLOBS = DatasetInfo(
    id="meta-blobs",
    name="Blobs (meta data)",
    kind="meta",
    load=load_blobs,
    default_sizes=(60,),
    params={"n_classes": Param(3, "choice: test"), "dim": Param(8, "choice: test")},
)
MISSING = DatasetInfo(
    id="meta-missing", name="Missing (meta data)", kind="meta", load=load_missing,
    default_sizes=(10,),
)  # fmt: skip


class MetaProbeKMeans(ClusterMixin, BaseEstimator):
    """k-means that reports the meta data it was given to the file ``trace``."""

    def __init__(self, n_clusters=2, random_state=None, trace="", meta_data=None):
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.trace = trace
        self.meta_data = meta_data

    def fit(self, X, y=None):
        if self.meta_data is None:
            raise ValueError("meta-probe needs meta data")
        meta_X, meta_y = self.meta_data
        if self.trace:
            with open(self.trace, "w") as handle:
                json.dump(
                    {
                        "X_shape": list(meta_X.shape),
                        "labels": sorted(int(v) for v in np.unique(meta_y)),
                        "X_sum": float(np.asarray(meta_X, dtype=np.float64).sum()),
                    },
                    handle,
                )
        self.labels_ = KMeans(
            self.n_clusters, n_init=3, random_state=self.random_state
        ).fit_predict(X)
        return self


class DeafKMeans(ClusterMixin, BaseEstimator):
    """k-means whose ``__init__`` takes no ``meta_data``."""

    def __init__(self, n_clusters=2, random_state=None):
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X, y=None):
        self.labels_ = KMeans(
            self.n_clusters, n_init=3, random_state=self.random_state
        ).fit_predict(X)
        return self


def blobs_after_missing(dataset_id: str, params: dict) -> list[MetaSource]:
    """On ``synthetic``: ``meta-missing`` if it were there, else blobs in the target's space."""
    if dataset_id != "synthetic":
        return []
    return [MetaSource("meta-missing"), MetaSource("meta-blobs", {"dim": params["ambient_dim"]})]


_COMMON = dict(memory_mb=lambda n, d: 8.0 * n * d / 2**20, kind="reference")
METHOD = MethodInfo(
    id="meta-probe",
    name="Meta probe",
    estimator=MetaProbeKMeans,
    defaults={"*": {"trace": Param("", "choice: test, where fit reports its meta data")}},
    meta=blobs_after_missing,
    **_COMMON,
)
ONLY_MISSING = MethodInfo(
    id="meta-probe-missing",
    name="Meta probe (missing source)",
    estimator=MetaProbeKMeans,
    defaults={"*": {"trace": Param("", "choice: test")}},
    meta=lambda dataset_id, params: [MetaSource("meta-missing")],
    **_COMMON,
)
DEAF = MethodInfo(
    id="meta-probe-deaf",
    name="Meta probe (no meta_data argument)",
    estimator=DeafKMeans,
    defaults={"*": {}},
    meta=blobs_after_missing,
    **_COMMON,
)
