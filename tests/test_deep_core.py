"""The deep self-expressive core: layer, optimiser, training stages, caches, memory guard."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep import (
    DeepSelfExpressiveClustering,
    MemoryBudgetError,
    SelfExpressionLayer,
    build_autoencoder,
    check_finetune_memory,
)
from benchmark.deep.coefficient_adam import CoefficientAdam
from benchmark.deep.estimator import scale_input
from benchmark.metrics import clustering_accuracy
from tests.deep_fixtures import KilledAfterSaves, small_model

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_data_home")


def within_cluster_mass(affinity: np.ndarray, y: np.ndarray) -> float:
    inside = sum(affinity[np.ix_(y == k, y == k)].sum() for k in np.unique(y))
    return float(inside / affinity.sum())


@pytest.mark.parametrize("regularizer", ["l1", "l2"])
def test_fused_update_equals_adam_on_masked_coefficients(regularizer):
    """Block-wise gradient + Adam = autograd through C⊙(1−I) + torch.optim.Adam."""
    n, d, weight = 60, 5, 0.3
    torch.manual_seed(0)
    codes_in = torch.randn(n, d)
    W = torch.randn(d, d, requires_grad=True)
    layer = SelfExpressionLayer(n, 1e-2, torch.device("cpu"))
    fused = CoefficientAdam(layer, lr=1e-2, regularizer=regularizer, weight=weight)
    reference = torch.full((n, n), 1e-2)
    reference.fill_diagonal_(0)
    reference.requires_grad_(True)
    mask = 1 - torch.eye(n)
    adam = torch.optim.Adam([reference], lr=1e-2)

    def loss_of(product, codes):
        return 0.5 * ((product - codes) ** 2).sum() + ((product.sum(1) - 1) ** 2).sum()

    for _ in range(15):
        codes = codes_in @ W
        loss_of(layer.forward(codes), codes).backward()
        fused.step()
        codes = codes_in @ W
        masked = reference * mask
        penalty = masked.abs().sum() if regularizer == "l1" else (masked**2).sum()
        adam.zero_grad()
        (loss_of(masked.t() @ codes, codes) + weight * penalty).backward()
        adam.step()
    assert torch.allclose(layer.coef, reference.detach() * mask, atol=1e-6)
    assert torch.count_nonzero(torch.diagonal(layer.coef)) == 0


def test_conv_autoencoder_shapes():
    model = build_autoencoder((1, 32, 32), (10, 20, 30, 40), 3, (), "relu", seed=0)
    x = torch.rand(3, 1, 32, 32)
    codes = model.encode(x)
    assert codes.shape == (3, 40 * 2 * 2)
    assert model.decode(codes).shape == x.shape


def test_recovers_nonlinear_union_with_block_diagonal_c(nonlinear_union):
    X, y = nonlinear_union
    model = small_model().fit(X)
    assert clustering_accuracy(y, model.labels_) >= 0.9  # chance is about 0.3
    assert within_cluster_mass(model.affinity_matrix_, y) > 0.6  # chance: 0.25
    assert np.count_nonzero(np.diag(model.coef_)) == 0
    assert model.n_iter_ == 100 and np.isfinite(model.objective_)


def test_l2_clusters_nonlinear_union(nonlinear_union):
    X, y = nonlinear_union
    model = small_model(regularizer="l2", finetune_epochs=300).fit(X)
    assert clustering_accuracy(y, model.labels_) >= 0.9
    assert within_cluster_mass(model.affinity_matrix_, y) > 0.4
    assert np.count_nonzero(np.diag(model.coef_)) == 0


def test_images_use_the_convolutional_network():
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 32, 32), dtype=np.float32)
    model = DeepSelfExpressiveClustering(
        n_clusters=2, random_state=0, pretrain_epochs=2, finetune_epochs=3, use_cache=False
    ).fit(images)
    assert model.coef_.shape == (40, 40) and model.labels_.shape == (40,)
    assert np.count_nonzero(np.diag(model.coef_)) == 0


@pytest.mark.parametrize("saves_before_kill", [1, 3], ids=["in-pretraining", "in-finetuning"])
def test_killed_run_resumes_to_the_same_result(tmp_path, nonlinear_union, saves_before_kill):
    X, _ = nonlinear_union
    settings = dict(pretrain_epochs=20, finetune_epochs=30)
    uninterrupted = small_model(**settings).fit(X)
    path = tmp_path / "task.pt"
    with pytest.raises(KeyboardInterrupt):
        small_model(**settings, checkpoint=KilledAfterSaves(path, 10, saves_before_kill)).fit(X)
    saved = torch.load(path, weights_only=False)
    assert saved["stage"] == ("pretrain" if saves_before_kill == 1 else "finetune")
    resumed = small_model(**settings, checkpoint=Checkpoint(path, 10)).fit(X)
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)
    np.testing.assert_array_equal(resumed.labels_, uninterrupted.labels_)
    assert resumed.finetune_loss_ == uninterrupted.finetune_loss_


def test_checkpoint_of_another_configuration_is_ignored(tmp_path, nonlinear_union):
    X, _ = nonlinear_union
    path = tmp_path / "task.pt"
    with pytest.raises(KeyboardInterrupt):
        small_model(lambda1=5.0, checkpoint=KilledAfterSaves(path, 10, 1)).fit(X)
    fresh = small_model().fit(X)
    reused = small_model(checkpoint=Checkpoint(path, 10)).fit(X)
    np.testing.assert_array_equal(reused.coef_, fresh.coef_)


def test_caches_share_pretraining_and_fine_tuning(nonlinear_union):
    X, _ = nonlinear_union
    uncached = small_model(regularizer="l2").fit(X)
    l1 = small_model(use_cache=True).fit(X)
    assert not l1.pretrain_cached_ and not l1.coef_cached_
    l2 = small_model(regularizer="l2", use_cache=True).fit(X)
    assert l2.pretrain_cached_ and not l2.coef_cached_
    np.testing.assert_array_equal(l2.coef_, uncached.coef_)
    post = small_model(
        regularizer="l2", use_cache=True, post_process=True, post_subspace_dim=3, post_alpha=2.0
    ).fit(X)
    assert post.coef_cached_
    np.testing.assert_array_equal(post.coef_, uncached.coef_)
    assert post.pretrain_loss_ == uncached.pretrain_loss_


def test_memory_guard_refuses_oversized_n():
    with pytest.raises(MemoryBudgetError, match=r"n=200000 .* over the budget of 24\.0 GiB"):
        check_finetune_memory(200_000, 2048, torch.device("cpu"), budget_mb=24 * 1024)
    assert check_finetune_memory(1000, 2048, torch.device("cpu"), budget_mb=24 * 1024) < 1024


def test_estimator_stops_before_allocating_when_over_budget(nonlinear_union):
    X, _ = nonlinear_union
    with pytest.raises(MemoryBudgetError, match="memory_budget_mb"):
        small_model(memory_budget_mb=1.0).fit(X)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((10, 1, 32)), "vectors .* or images"),
        (np.zeros((10, 1, 30, 30), dtype=np.float32), "divisible by 16"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message):
        DeepSelfExpressiveClustering(n_clusters=2, use_cache=False).fit(data)


def test_unknown_regularizer_is_refused(nonlinear_union):
    X, _ = nonlinear_union
    with pytest.raises(ValueError, match="choose one of"):
        small_model(regularizer="l3").fit(X)


def test_unit_rms_input_makes_the_weights_scale_free(nonlinear_union):
    """With input_scale='unit-rms', 256·X (an exact scaling) trains as X; as given, not."""
    X, _ = nonlinear_union
    X = np.abs(X)  # like pixels: non-negative
    scaled = scale_input(256 * X, "unit-rms")
    np.testing.assert_array_equal(scaled, scale_input(X, "unit-rms"))
    assert np.mean(scaled.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-6)
    short = {"pretrain_epochs": 5, "finetune_epochs": 10}
    unit = small_model(input_scale="unit-rms", **short).fit(X)
    unit_256 = small_model(input_scale="unit-rms", **short).fit(256 * X)
    np.testing.assert_array_equal(unit_256.coef_, unit.coef_)
    given = small_model(**short).fit(X)
    given_256 = small_model(**short).fit(256 * X)
    assert not np.allclose(given_256.coef_, given.coef_, atol=1e-3)
    with pytest.raises(ValueError, match="input_scale must be one of"):
        small_model(input_scale="z-score").fit(X)
