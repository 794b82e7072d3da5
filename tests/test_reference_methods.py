import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_circles

from benchmark.metrics import clustering_accuracy


def test_kmeans_separates_well_separated_blobs(registry):
    X, y = make_blobs(600, centers=4, n_features=8, cluster_std=0.5, random_state=0)
    estimator = registry.method("kmeans").estimator_class(n_clusters=4, random_state=0)
    assert clustering_accuracy(y, estimator.fit_predict(X.astype(np.float32))) >= 0.95
    assert clone(estimator).get_params()["n_init"] == 10


def test_spectral_beats_kmeans_on_concentric_rings(registry):
    X, y = make_circles(600, factor=0.4, noise=0.04, random_state=0)
    spectral = registry.method("spectral").estimator_class(n_clusters=2, random_state=0)
    kmeans = registry.method("kmeans").estimator_class(n_clusters=2, random_state=0)
    acc_spectral = clustering_accuracy(y, spectral.fit_predict(X))
    acc_kmeans = clustering_accuracy(y, kmeans.fit_predict(X))
    assert acc_spectral >= 0.99 and acc_kmeans < 0.75


def test_reference_methods_are_declared_as_such(registry):
    for method_id in ("kmeans", "spectral"):
        info = registry.method(method_id)
        assert info.kind == "reference"
        for text in ("bbc", "20newsgroups", "a-users-corpus"):  # by kind of features
            assert info.params_for(text, "text")["l2_normalize"].value is True
        assert info.params_for("fashion-mnist", "images")["l2_normalize"].value is False
