"""The spectral step shared by every self-expressive method, and DSC-Net post-processing.

* :func:`spectral_clustering`: Ng, Jordan & Weiss (NIPS 2001), "On spectral clustering:
  analysis and an algorithm": top eigenvectors of D^-1/2 A D^-1/2, rows scaled to unit
  length, k-means. Eigenvectors come from LOBPCG on the normalised affinity started
  from a random block (about a second on a sparse 10k affinity, where scikit-learn's
  default Laplacian solver took minutes here; a block method also finds a top
  eigenvalue repeated once per connected component, which ARPACK misses), ARPACK as a
  fallback, and exact dense ``eigh`` for small n.
* :func:`keep_largest` and :func:`dsc_postprocess`: the post-processing of Ji et al.
  (NeurIPS 2017, DSC-Net reference code, ``thrC`` and ``post_proC``): per column keep the
  largest coefficients holding a fraction of its L1 mass, then build the affinity from
  the leading d·K+1 singular vectors of the symmetrised C raised to the power alpha.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh, lobpcg, svds
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize

DENSE_EIGH_MAX_N = 1500
"""Below this size the exact dense eigensolver is both fast and safest."""


def _normalized_affinity(affinity: np.ndarray | sp.spmatrix) -> np.ndarray | sp.csr_matrix:
    """D^-1/2 A D^-1/2 for a symmetric non-negative affinity (isolated points kept).

    Dense affinities are scaled in float32 without n×n temporaries: at n = 10,000 a
    float64 copy is 800 MB and every eigensolver product reads it whole.
    """
    if affinity.shape[0] != affinity.shape[1]:
        raise ValueError(f"affinity must be square, got shape {affinity.shape}")
    if sp.issparse(affinity):
        A = sp.csr_matrix(affinity, dtype=np.float64)
        if A.nnz and A.data.min() < 0:
            raise ValueError("affinity must be non-negative; take absolute values first")
        inv_sqrt = _inverse_sqrt_degree(np.asarray(A.sum(axis=1)).ravel())
        scale = sp.diags(inv_sqrt)
        return (scale @ A @ scale).tocsr()
    M = np.array(affinity, dtype=np.float32, copy=True)
    if M.min() < 0:
        raise ValueError("affinity must be non-negative; take absolute values first")
    inv_sqrt = _inverse_sqrt_degree(M.sum(axis=1, dtype=np.float64)).astype(np.float32)
    M *= inv_sqrt[:, None]
    M *= inv_sqrt[None, :]
    return M


def _inverse_sqrt_degree(degree: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0))


def spectral_embedding(
    affinity: np.ndarray | sp.spmatrix, n_components: int, random_state: int | None = None
) -> np.ndarray:
    """Leading ``n_components`` eigenvectors of D^-1/2 A D^-1/2, rows normalised (NJW)."""
    M = _normalized_affinity(affinity)
    n = M.shape[0]
    if n_components >= n:
        raise ValueError(f"need more points ({n}) than clusters ({n_components})")
    if n <= DENSE_EIGH_MAX_N:
        dense = M.toarray() if sp.issparse(M) else M
        _, vectors = scipy.linalg.eigh(
            dense.astype(np.float64), subset_by_index=[n - n_components, n - 1]
        )
    else:
        vectors = _top_eigenvectors_iterative(M, n_components, random_state)
    return normalize(vectors.astype(np.float64), axis=1)


def _top_eigenvectors_iterative(M, k: int, random_state: int | None) -> np.ndarray:
    """LOBPCG from a random block for the largest eigenvalues; ARPACK if it does not converge.

    A block method is needed: with well-separated clusters the top eigenvalue 1 is repeated
    k times, and single-vector Lanczos (ARPACK) finds only some of its copies.
    """
    rng = np.random.default_rng(random_state)
    X0 = rng.standard_normal((M.shape[0], k)).astype(M.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values, vectors = lobpcg(M, X0, largest=True, tol=1e-6, maxiter=500)
    residual = np.linalg.norm(M @ vectors - vectors * values, axis=0)
    if np.all(np.isfinite(residual)) and residual.max() < 1e-3:
        return vectors
    _, vectors = eigsh(M, k=k, which="LA", v0=rng.standard_normal(M.shape[0]), tol=1e-6)
    return vectors


def spectral_clustering(
    affinity: np.ndarray | sp.spmatrix,
    n_clusters: int,
    random_state: int | None = None,
    n_init: int = 20,
) -> np.ndarray:
    """Ng-Jordan-Weiss spectral clustering of a symmetric non-negative affinity."""
    embedding = spectral_embedding(affinity, n_clusters, random_state)
    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
    return kmeans.fit_predict(embedding)


def symmetric_affinity(coef: np.ndarray | sp.spmatrix) -> np.ndarray | sp.csr_matrix:
    """The usual self-expressive affinity ½(|C| + |Cᵀ|)."""
    if sp.issparse(coef):
        C = abs(sp.csr_matrix(coef))
        return ((C + C.T) * 0.5).tocsr()
    C = np.abs(np.asarray(coef))
    return 0.5 * (C + C.T)


def keep_largest(coef: np.ndarray, keep_fraction: float) -> np.ndarray:
    """Per column, keep the largest-magnitude entries holding ``keep_fraction`` of its L1 mass.

    DSC-Net's ``thrC(C, ro)``; ``keep_fraction >= 1`` returns C unchanged.
    """
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    C = np.asarray(coef)
    if keep_fraction >= 1:
        return C.copy()
    magnitude = np.abs(C)
    order = np.argsort(-magnitude, axis=0)
    sorted_mag = np.take_along_axis(magnitude, order, axis=0)
    cumulative = np.cumsum(sorted_mag, axis=0)
    total = cumulative[-1:, :]
    # keep an entry while the mass before it is still short of the target (so at least one)
    before = cumulative - sorted_mag
    keep_sorted = before < keep_fraction * total
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=0)
    return np.where(keep, C, 0)


def reference_keep_fraction(n_clusters: int) -> float:
    """DSC-Net's threshold ``ro`` as its EYaleB script sets it from the number of
    clusters K: max(0.4 − 0.1 (K − 1)/10, 0.1)."""
    return max(0.4 - 0.1 * (n_clusters - 1) / 10, 0.1)


def reference_subspace_dim(n_points: int, n_clusters: int) -> int:
    """DSC-Net's ``d`` of ``post_proC`` from the cluster size: a third of a cluster's other
    points, (n/K − 1) // 3, capped at 10 and at least 1.

    This gives the reference code's own choices, d = 10 for Extended Yale B (64 images per
    class) and d = 3 for ORL (10 per class), and keeps r = d·K + 1 below n, where the
    readout would otherwise take nearly every singular vector (d = 10 at K = 40, n = 400
    asks for r = 401 > n − 1)."""
    return max(1, min(10, (n_points // n_clusters - 1) // 3))


def dsc_postprocess(
    coef: np.ndarray,
    n_clusters: int,
    subspace_dim: int | str,
    alpha: float,
    keep_fraction: float | str = 1.0,
) -> np.ndarray:
    """Affinity of DSC-Net's ``post_proC`` after the ``thrC`` threshold.

    ``keep_fraction="auto"`` is :func:`reference_keep_fraction` of ``n_clusters``,
    ``subspace_dim="auto"`` :func:`reference_subspace_dim` of n and ``n_clusters``.

    ``coef`` is C in the papers' orientation (column j writes point j; ``X ≈ XC``), as
    every self-expressive method here returns it. The DSC-Net reference code's
    coefficient variable multiplies row codes (``Coef @ z``), so it is Cᵀ, and its
    ``thrC`` walks the columns of *that*: the threshold keeps, for each point i, the
    largest coefficients with which i serves the others (row i of C). This one
    orientation serves every method.

    C ← thrC(Cᵀ); C ← ½(C + Cᵀ); U Σ from the top r = d·K + 1 singular triplets;
    rows of U Σ^½ normalised; Z = U Uᵀ with negatives set to 0; affinity |Z|^α scaled
    to max 1 and symmetrised.
    """
    if keep_fraction == "auto":
        keep_fraction = reference_keep_fraction(n_clusters)
    if subspace_dim == "auto":
        subspace_dim = reference_subspace_dim(np.shape(coef)[0], n_clusters)
    C = keep_largest(np.asarray(coef).T, float(keep_fraction))
    C = 0.5 * (C + C.T)
    r = min(subspace_dim * n_clusters + 1, C.shape[0] - 1)
    U, s, _ = svds(C.astype(np.float64), k=r, random_state=0)
    U = U * np.sqrt(s)[None, :]
    U = normalize(U, axis=1)
    Z = U @ U.T
    Z = np.maximum(Z, 0)
    L = Z**alpha
    peak = L.max()
    if peak > 0:
        L = L / peak
    return 0.5 * (L + L.T)
