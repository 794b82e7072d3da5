"""``spectral``: spectral clustering on a k-nearest-neighbour graph, a reference row.

The same Ng-Jordan-Weiss spectral step as the self-expressive methods, but on a
symmetrised kNN graph of the features (Ng, Jordan & Weiss, NIPS 2001; von Luxburg,
"A tutorial on spectral clustering", 2007, section 2.2) instead of a learned
self-expressive affinity: it shows what a plain neighbourhood graph gives.

The estimator, :class:`KNNSpectralReference` in ``estimators/spectral.py``, is
imported only when a task runs.
"""

from __future__ import annotations

from benchmark.plugins import MethodInfo, Param, features_key

NORMALISED_TEXT = Param(True, "choice: cosine neighbours for TF-IDF→SVD features")

METHOD = MethodInfo(
    id="spectral",
    name="Spectral (kNN)",
    kind="reference",
    estimator="estimators/spectral.py:KNNSpectralReference",
    defaults={
        "*": {
            "n_neighbors": Param(10, "choice: scikit-learn's SpectralClustering default"),
            "l2_normalize": Param(False, "choice: raw features (pixels in [0, 1])"),
        },
        features_key("text"): {"l2_normalize": NORMALISED_TEXT},
    },
    memory_mb=lambda n, d: 2 * n * d * 8 / 2**20 + n * 10 * 40 / 2**20 + 1024,
    description="NJW spectral clustering on a symmetrised 10-NN graph (reference row).",
)
