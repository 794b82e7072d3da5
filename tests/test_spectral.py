import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import kneighbors_graph

from benchmark.metrics import clustering_accuracy
from benchmark.spectral import (
    DENSE_EIGH_MAX_N,
    dsc_postprocess,
    keep_largest,
    reference_keep_fraction,
    reference_subspace_dim,
    spectral_clustering,
    symmetric_affinity,
)


def block_affinity(n_per: int, k: int, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per)
    A = (y[:, None] == y[None, :]) * rng.random((k * n_per, k * n_per))
    A = A + noise * rng.random(A.shape)
    return 0.5 * (A + A.T), y


@pytest.mark.parametrize("n_per", [20, DENSE_EIGH_MAX_N // 3 + 100])
def test_spectral_recovers_blocks_dense_and_sparse(n_per):
    A, y = block_affinity(n_per, 3, noise=0.01)
    assert clustering_accuracy(y, spectral_clustering(A, 3, random_state=0)) == 1.0
    sparse = sp.csr_matrix(np.where(A > 0.05, A, 0))
    assert clustering_accuracy(y, spectral_clustering(sparse, 3, random_state=0)) == 1.0


def test_spectral_rejects_negative_affinity():
    with pytest.raises(ValueError, match="non-negative"):
        spectral_clustering(-np.ones((5, 5)), 2)


def test_symmetric_affinity_is_half_abs_sum():
    C = np.array([[0.0, -2.0], [1.0, 0.0]])
    np.testing.assert_allclose(symmetric_affinity(C), [[0, 1.5], [1.5, 0]])
    np.testing.assert_allclose(symmetric_affinity(sp.csr_matrix(C)).toarray(), [[0, 1.5], [1.5, 0]])


def test_keep_largest_keeps_the_mass_fraction_per_column():
    C = np.array([[0.0, 5.0], [3.0, 0.0], [1.0, 5.0]])
    kept = keep_largest(C, 0.7)  # column 0: 3 of 4 is 75% >= 70% -> keep only 3
    np.testing.assert_array_equal(kept[:, 0], [0, 3, 0])
    np.testing.assert_array_equal(kept[:, 1], [5, 0, 5])  # 5 is 50% < 70%: keep both
    np.testing.assert_array_equal(keep_largest(C, 1.0), C)


def test_dsc_postprocess_gives_a_clusterable_affinity():
    A, y = block_affinity(30, 3, noise=0.05, seed=1)
    np.fill_diagonal(A, 0)
    L = dsc_postprocess(A, 3, subspace_dim=4, alpha=4, keep_fraction=0.9)
    assert L.shape == A.shape and np.allclose(L, L.T) and L.min() >= 0 and L.max() <= 1
    assert clustering_accuracy(y, spectral_clustering(L, 3, random_state=0)) == 1.0


def test_disconnected_components_beyond_the_dense_solver_size():
    # k exact components: eigenvalue 1 repeated k times. Single-vector Lanczos (ARPACK)
    # found only some copies of it here (ACC 0.70 on this graph); the block solver all.
    k, n_per = 10, 300
    rng = np.random.default_rng(0)
    blocks = [kneighbors_graph(rng.standard_normal((n_per, 5)), 10) for _ in range(k)]
    A = sp.block_diag(blocks).tocsr()
    assert A.shape[0] > DENSE_EIGH_MAX_N
    labels = spectral_clustering(0.5 * (A + A.T), k, random_state=0)
    assert clustering_accuracy(np.repeat(np.arange(k), n_per), labels) == 1.0


def test_reference_subspace_dim_follows_the_cluster_size():
    assert reference_subspace_dim(38 * 64, 38) == 10  # DSC-Net EYaleB: d = 10
    assert reference_subspace_dim(400, 40) == 3  # DSC-Net ORL: d = 3
    assert reference_subspace_dim(1000, 10) == 10  # capped
    assert reference_subspace_dim(8, 4) == 1  # at least one
    for n, k in ((400, 40), (60, 10), (5000, 10)):
        assert reference_subspace_dim(n, k) * k + 1 < n  # r stays below n
    A, _ = block_affinity(12, 5, noise=0.05, seed=2)  # 12 per cluster: d = 3
    np.fill_diagonal(A, 0)
    np.testing.assert_allclose(
        dsc_postprocess(A, 5, subspace_dim="auto", alpha=3, keep_fraction=0.5),
        dsc_postprocess(A, 5, subspace_dim=3, alpha=3, keep_fraction=0.5),
    )


def test_reference_keep_fraction_follows_the_number_of_clusters():
    assert reference_keep_fraction(10) == pytest.approx(0.31)  # DSC-Net EYaleB at K = 10
    assert reference_keep_fraction(38) == pytest.approx(0.1)  # floored
    A, _ = block_affinity(30, 3, noise=0.05, seed=1)
    np.fill_diagonal(A, 0)
    np.testing.assert_allclose(
        dsc_postprocess(A, 3, subspace_dim=4, alpha=4, keep_fraction="auto"),
        dsc_postprocess(A, 3, subspace_dim=4, alpha=4, keep_fraction=reference_keep_fraction(3)),
    )
