"""Base estimator for self-expressive subspace clustering methods.

A subclass computes a self-expressive coefficient matrix C (``X ≈ XC`` in the
papers' D×n notation: column j of C writes point j as a combination of the other
points, ``diag(C) = 0``); this base turns C into an affinity and clusters it with the
engine's spectral step, optionally after DSC-Net's post-processing.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_array

from benchmark.spectral import dsc_postprocess, spectral_clustering, symmetric_affinity


class SelfExpressiveClustering(ClusterMixin, BaseEstimator):
    """Shared ``fit`` of self-expressive methods; subclasses implement ``_self_expression``.

    Subclasses define ``__init__`` with their parameters (scikit-learn contract: store
    them unchanged) including ``n_clusters`` and ``random_state``; a classical method also
    takes ``normalize_points``, its input preprocessing stated as a parameter (scale every
    point to unit ℓ2 norm before the self-expression, or take the data as given).
    Learned attributes:
    ``coef_`` (n×n, dense or sparse, paper's C), ``affinity_matrix_``, ``labels_``,
    and where the solver has them ``n_iter_``, ``converged_``, ``objective_``;
    ``fit_info_`` (kept in the record) holds the number of connected components of a
    sparse affinity graph, warned about when it exceeds ``n_clusters``.
    """

    n_clusters: int
    random_state: int | None
    normalize_points: bool = False
    """Class default for subclasses without the parameter (the deep methods take the
    dataset's own scaling, as their reference code does)."""

    def _self_expression(self, X: np.ndarray) -> np.ndarray | sp.spmatrix:
        """Return the n×n coefficient matrix C for samples in the rows of ``X``."""
        raise NotImplementedError

    def _affinity(self, coef: np.ndarray | sp.spmatrix) -> np.ndarray | sp.spmatrix:
        """Affinity from C; default ½(|C| + |Cᵀ|), or DSC-Net post-processing when set.

        The one readout of every self-expressive method: C in the papers' orientation
        goes to :func:`benchmark.spectral.dsc_postprocess` (which states how it reads it).
        """
        post = getattr(self, "post_process", None)
        if post:
            dense = coef.toarray() if sp.issparse(coef) else np.asarray(coef)
            return dsc_postprocess(
                dense,
                self.n_clusters,
                subspace_dim=self.post_subspace_dim,
                alpha=self.post_alpha,
                keep_fraction=self.post_keep_fraction,
            )
        return symmetric_affinity(coef)

    def _validate_input(self, X: Any) -> np.ndarray:
        X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if not isinstance(self.n_clusters, int | np.integer) or self.n_clusters < 2:
            raise ValueError(f"n_clusters must be an integer >= 2, got {self.n_clusters!r}")
        if X.shape[0] <= self.n_clusters:
            raise ValueError(f"need more samples ({X.shape[0]}) than clusters ({self.n_clusters})")
        return X

    def fit(self, X: Any, y: Any = None) -> SelfExpressiveClustering:
        """Compute C, the affinity and the cluster labels of the rows of ``X``."""
        X = self._validate_input(X)
        if not isinstance(self.normalize_points, bool | np.bool_):
            raise ValueError(
                f"normalize_points must be True or False, got {self.normalize_points!r}"
            )
        if self.normalize_points:
            X = normalize(X, norm="l2")
        coef = self._self_expression(X)
        self.coef_ = coef
        self.affinity_matrix_ = self._affinity(coef)
        self.fit_info_ = {"affinity_components": self._count_components()}
        self.labels_ = spectral_clustering(
            self.affinity_matrix_, self.n_clusters, random_state=self.random_state
        )
        return self

    def _count_components(self) -> int | None:
        """Connected components of a sparse affinity graph (``None`` for a dense one).

        More components than clusters means the spectral step sees pieces, not
        subspaces: each small piece (duplicate points that write each other exactly, for
        instance) can take a cluster of its own. Warned about and kept in the record.
        """
        if not sp.issparse(self.affinity_matrix_):
            return None
        count, _ = connected_components(self.affinity_matrix_, directed=False)
        if count > self.n_clusters:
            warnings.warn(
                f"the affinity graph has {count} connected components for {self.n_clusters} "
                "clusters: spectral clustering will return some components (small groups "
                "of points that only write each other, e.g. duplicates) as clusters",
                RuntimeWarning,
                stacklevel=3,
            )
        return int(count)
