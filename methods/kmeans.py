"""``kmeans``: k-means++ on the dataset's features, a reference row for every table.

Not a subspace clustering method: it shows what the features give without any
self-expressive model (Lloyd's algorithm with k-means++ seeding, Arthur & Vassilvitskii,
SODA 2007, via scikit-learn), so claims in the tables can be judged against it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_array

from benchmark.plugins import MethodInfo, Param, features_key


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


NORMALISED_TEXT = Param(
    True, "choice: cosine geometry of TF-IDF→SVD features (what the k-means row measured "
    "while planning used)"
)  # fmt: skip

METHOD = MethodInfo(
    id="kmeans",
    name="k-means",
    kind="reference",
    estimator=KMeansReference,
    defaults={
        "*": {
            "n_init": Param(10, "choice: 10 k-means++ restarts, scikit-learn's classic default"),
            "l2_normalize": Param(False, "choice: raw features (pixels in [0, 1])"),
        },
        features_key("text"): {"l2_normalize": NORMALISED_TEXT},
    },
    memory_mb=lambda n, d: 3 * n * d * 8 / 2**20 + 200,
    description="k-means++ on the features (reference row).",
)
