"""``kmeans``: k-means++ on the dataset's features, a reference row for every table.

Not a subspace clustering method: it shows what the features give without any
self-expressive model (Lloyd's algorithm with k-means++ seeding, Arthur & Vassilvitskii,
SODA 2007, via scikit-learn), so claims in the tables can be judged against it.

The estimator, :class:`KMeansReference` in ``estimators/kmeans.py``, is imported
only when a task runs.
"""

from __future__ import annotations

from benchmark.plugins import MethodInfo, Param, features_key

NORMALISED_TEXT = Param(
    True, "choice: cosine geometry of TF-IDF→SVD features (what the k-means row measured "
    "while planning used)"
)  # fmt: skip

METHOD = MethodInfo(
    id="kmeans",
    name="k-means",
    kind="reference",
    estimator="estimators/kmeans.py:KMeansReference",
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
