"""Clustering metrics: ACC (Hungarian matching), NMI and ARI."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def _as_codes(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels).ravel()
    return np.unique(labels, return_inverse=True)[1]


def clustering_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of points correctly labelled under the best one-to-one cluster-to-class map.

    The map is found with the Hungarian algorithm on the contingency table; cluster and
    class counts may differ (unmatched clusters count as errors).
    """
    t, p = _as_codes(y_true), _as_codes(y_pred)
    if t.size != p.size:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    if t.size == 0:
        raise ValueError("cannot score an empty labelling")
    contingency = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(contingency, (p, t), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return float(contingency[rows, cols].sum() / t.size)


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """ACC, NMI (arithmetic normalisation, scikit-learn's default) and ARI."""
    return {
        "acc": clustering_accuracy(y_true, y_pred),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
    }
