"""The estimator of ``kmeans`` (declared in ``methods/kmeans.py``): k-means++ via scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_array


class KMeansReference(ClusterMixin, BaseEstimator):
    """k-means++ with ``n_init`` restarts on the rows of X, optionally L2-normalised first."""

    def __init__(
        self,
        n_clusters: int = 8,
        n_init: int = 10,
        l2_normalize: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.l2_normalize = l2_normalize
        self.random_state = random_state

    def fit(self, X, y=None) -> KMeansReference:
        """Cluster the rows of ``X``; sets ``labels_``, ``cluster_centers_``, ``objective_``."""
        X = check_array(X, dtype=[np.float64, np.float32])
        if self.l2_normalize:
            X = normalize(X, axis=1)
        model = KMeans(
            n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.random_state
        ).fit(X)
        self.labels_ = model.labels_
        self.cluster_centers_ = model.cluster_centers_
        self.objective_ = float(model.inertia_)
        self.n_iter_ = int(model.n_iter_)
        return self
