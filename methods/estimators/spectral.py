"""The estimator of ``spectral`` (declared in ``methods/spectral.py``): NJW spectral
clustering of a symmetrised kNN graph.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.neighbors import kneighbors_graph
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_array

from benchmark.spectral import spectral_clustering


class KNNSpectralReference(ClusterMixin, BaseEstimator):
    """Spectral clustering of the ½(A + Aᵀ) kNN connectivity graph of the rows of X."""

    def __init__(
        self,
        n_clusters: int = 8,
        n_neighbors: int = 10,
        l2_normalize: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.l2_normalize = l2_normalize
        self.random_state = random_state

    def fit(self, X, y=None) -> KNNSpectralReference:
        """Cluster the rows of ``X``; sets ``affinity_matrix_`` (sparse) and ``labels_``."""
        X = check_array(X, dtype=[np.float64, np.float32])
        if not 1 <= self.n_neighbors < X.shape[0]:
            raise ValueError(
                f"n_neighbors must be between 1 and n-1 = {X.shape[0] - 1}, got {self.n_neighbors}"
            )
        if self.l2_normalize:
            X = normalize(X, axis=1)
        graph = kneighbors_graph(X, self.n_neighbors, mode="connectivity", include_self=False)
        self.affinity_matrix_ = (0.5 * (graph + graph.T)).tocsr()
        self.labels_ = spectral_clustering(
            self.affinity_matrix_, self.n_clusters, random_state=self.random_state
        )
        return self
