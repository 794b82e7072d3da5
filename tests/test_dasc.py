"""The ``dasc`` plugin: discriminator geometry and losses, sampling, training, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep import (
    Batch,
    DeepSelfExpressiveClustering,
    MemoryBudgetError,
    TrainingContext,
)
from benchmark.metrics import clustering_accuracy
from benchmark.plugins import source_kind
from benchmark.registry import load_module
from tests.deep_fixtures import KilledAfterSaves, small_model


@pytest.fixture(scope="module")
def dasc():
    """The estimator's module, loaded by path as the engine loads it."""
    return load_module(Path(__file__).parents[1] / "methods" / "estimators" / "dasc.py")


@pytest.fixture(scope="module")
def declaration():
    """The plugin file's module (its METHOD), loaded by path as the registry loads it."""
    return load_module(Path(__file__).parents[1] / "methods" / "dasc.py")


pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_data_home")

BASE = {**small_model().get_params(), "finetune_epochs": 60}
ADVERSARIAL = dict(
    adversarial_start=30,
    subspace_rank=3,
    discriminator_warmup_steps=20,
    discriminator_steps=2,
    train_subspace_dim=3,
    train_alpha=2.0,
)


def small_dasc(dasc, **overrides):
    return dasc.DeepAdversarialSubspaceClustering(**{**BASE, **ADVERSARIAL, **overrides})


# -- geometry and losses against direct formulas -------------------------------------


def test_projection_residual_is_the_squared_distance_to_the_subspace(dasc):
    basis = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # the x-y plane in R^3
    points = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [0.0, 0.0, -2.0]])
    expected = torch.tensor([9.0, 0.0, 4.0])
    torch.testing.assert_close(dasc.projection_residuals(points, basis), expected)
    # columns are scaled to unit length before scoring: a scaled basis scores the same
    bases = torch.stack([3.0 * basis, torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, 0.0]])])
    table = dasc.residual_table(points, dasc.unit_columns(bases))
    torch.testing.assert_close(table[:, 0], expected)
    torch.testing.assert_close(table[:, 1], torch.tensor([5.0, 1.25, 0.0]))


def test_basis_penalties_match_direct_sums(dasc):
    bases = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(0))
    cross, orthogonality = dasc.basis_penalties(bases)
    direct_cross = sum(
        float(((bases[i].t() @ bases[j]) ** 2).sum()) for i in range(3) for j in range(3) if i != j
    )
    direct_orth = sum(
        float(((bases[i].t() @ bases[i] - torch.eye(2)) ** 2).sum()) for i in range(3)
    )
    assert float(cross) == pytest.approx(direct_cross / 3, rel=1e-5)
    assert float(orthogonality) == pytest.approx(direct_orth / 3, rel=1e-5)
    orthonormal, _ = torch.linalg.qr(torch.randn(5, 4, generator=torch.Generator().manual_seed(1)))
    cross, orthogonality = dasc.basis_penalties(
        torch.stack([orthonormal[:, :2], orthonormal[:, 2:]])
    )
    assert float(cross) == pytest.approx(0.0, abs=1e-10)
    assert float(orthogonality) == pytest.approx(0.0, abs=1e-10)


def test_hinge_and_generator_losses_match_formulas(dasc):
    real = [torch.tensor([0.1, 0.3]), torch.tensor([0.0])]
    fake = [torch.tensor([0.05, 0.5, 0.2]), torch.tensor([0.08, 0.02])]
    margin = 0.1
    # cluster 0: mean real 0.2, hinge mean (0.05 + 0 + 0)/3; cluster 1: 0 + (0.02 + 0.08)/2
    expected = ((0.2 + 0.05 / 3) + (0.0 + 0.05)) / 2
    assert float(dasc.hinge_discriminator_loss(real, fake, margin)) == pytest.approx(expected)
    assert float(dasc.fake_energy(fake)) == pytest.approx((0.75 / 3 + 0.05) / 2)


def test_curriculum_grows_from_the_floor_to_the_whole_cluster(dasc):
    assert dasc.curriculum_count(100, 0, 5.0, 1.01, 0.4) == 40
    assert dasc.curriculum_count(100, 300, 5.0, 1.01, 0.4) == 99  # ⌈5·1.01^300⌉ = ⌈98.9⌉
    assert dasc.curriculum_count(100, 320, 5.0, 1.01, 0.4) == 100  # capped at the cluster
    assert dasc.curriculum_count(1000, 300, 5.0, 1.01, 0.4) == 400
    assert dasc.curriculum_count(1000, 500, 5.0, 1.01, 0.4) == 724  # ⌈5·1.01^500⌉
    assert dasc.curriculum_count(10, 10**6, 5.0, 1.01, 0.4) == 10


# -- the sampling layer -----------------------------------------------------------------


def discriminator_on(dasc, codes: torch.Tensor, labels: np.ndarray, rank: int):
    context = TrainingContext(len(labels), codes.shape[1], int(labels.max()) + 1, 0, codes.device)
    estimator = small_dasc(dasc, subspace_rank=rank, adversarial_start=0)
    disc = dasc.SubspaceDiscriminator(context, estimator)
    disc.labels = labels
    return disc


def test_fakes_lie_in_the_span_of_their_cluster(dasc):
    rng = np.random.default_rng(0)
    spans = [np.linalg.qr(rng.standard_normal((8, 2)))[0] for _ in range(3)]
    codes = np.concatenate([rng.standard_normal((15, 2)) @ s.T for s in spans])
    labels = np.repeat(np.arange(3), 15)
    codes = dasc.unit_rows(torch.tensor(codes, dtype=torch.float32))
    disc = discriminator_on(dasc, codes, labels, rank=2)
    own = torch.tensor(np.stack(spans), dtype=torch.float32)
    _, fake = disc.samples(codes, epoch=0, bases=own)
    assert all(float(f.max()) < 1e-10 for f in fake)  # every fake is in its cluster's span
    # under another cluster's subspace the same fakes have clearly non-zero residuals
    _, fake_elsewhere = disc.samples(codes, epoch=0, bases=own[[1, 2, 0]])
    assert all(float(f.min()) > 1e-3 for f in fake_elsewhere)
    # convex combinations: weights in [0, 1] summing to 1, so fakes stay in the unit ball
    fakes = dasc.convex_combinations(codes[:15], 50, torch.Generator().manual_seed(0))
    assert fakes.shape == (50, 8) and float(fakes.norm(dim=1).max()) <= 1 + 1e-6


def test_a_misassigned_point_makes_its_clusters_fakes_look_fake(dasc):
    rng = np.random.default_rng(1)
    spans = [np.linalg.qr(rng.standard_normal((8, 2)))[0] for _ in range(2)]
    codes = np.concatenate([rng.standard_normal((20, 2)) @ s.T for s in spans])
    codes = dasc.unit_rows(torch.tensor(codes, dtype=torch.float32))
    labels = np.repeat(np.arange(2), 20)
    labels[0] = 1  # a point of subspace 0 put in cluster 1
    disc = discriminator_on(dasc, codes, labels, rank=2)
    own = torch.tensor(np.stack(spans), dtype=torch.float32)
    real, fake = disc.samples(codes, epoch=0, bases=own)
    assert float(real[1].max()) < 1e-10  # the smallest-residual reals exclude the stray point
    assert float(fake[1].mean()) > 1e-4 and float(fake[0].max()) < 1e-10


def test_discriminator_separates_real_from_fake_codes(dasc):
    """On mixed clusters the hinge loss falls and fakes end above the reals' residual."""
    rng = np.random.default_rng(2)
    spans = [np.linalg.qr(rng.standard_normal((10, 2)))[0] for _ in range(2)]
    codes = np.concatenate([rng.standard_normal((30, 2)) @ s.T for s in spans])
    codes = torch.tensor(codes, dtype=torch.float32)
    truth = np.repeat(np.arange(2), 30)
    labels = truth.copy()
    labels[:6] = 1  # six points of subspace 0 sit in cluster 1
    coef = torch.zeros(60, 60)
    disc = discriminator_on(dasc, codes, labels, rank=2)
    disc._recluster = lambda coef: None  # keep the hand-made clusters
    batch = Batch("finetune", 0, codes, codes, codes, torch.arange(60), codes, coef)
    first = disc.update(batch)["discriminator"]
    for epoch in range(1, 40):
        last = disc.update(
            Batch("finetune", epoch, codes, codes, codes, torch.arange(60), codes, coef)
        )
    assert last["discriminator"] < first
    real, fake = disc.samples(dasc.unit_rows(codes), 39, disc.scoring_bases().detach())
    assert float(fake[1].mean()) > float(real[1].mean())


# -- training ---------------------------------------------------------------------------


def test_at_weight_zero_dasc_is_plain_dscn(dasc, nonlinear_union):
    X, _ = nonlinear_union
    plain = DeepSelfExpressiveClustering(**BASE).fit(X)
    silent = small_dasc(dasc, adversarial_weight=0.0).fit(X)
    np.testing.assert_array_equal(silent.coef_, plain.coef_)
    np.testing.assert_array_equal(silent.labels_, plain.labels_)
    assert silent.finetune_loss_ == plain.finetune_loss_


def test_dasc_clusters_a_nonlinear_union(dasc, nonlinear_union):
    X, y = nonlinear_union
    plain = small_dasc(dasc, adversarial_weight=0.0).fit(X)
    model = small_dasc(dasc).fit(X)
    assert clustering_accuracy(y, model.labels_) >= 0.8  # chance is about 0.3
    assert np.count_nonzero(np.diag(model.coef_)) == 0
    # the adversarial term changed the training once its phase began, not before
    start = ADVERSARIAL["adversarial_start"]
    assert model.finetune_loss_[:start] == plain.finetune_loss_[:start]
    assert not np.array_equal(model.coef_, plain.coef_)
    assert 0 < model.objective_terms_["adversarial"] < 1  # mean residual of unit-length fakes


@pytest.mark.parametrize("saves_before_kill", [3, 5], ids=["plain-phase", "adversarial-phase"])
def test_killed_run_resumes_to_the_same_result(dasc, tmp_path, nonlinear_union, saves_before_kill):
    X, _ = nonlinear_union
    settings = dict(pretrain_epochs=20, finetune_epochs=40, adversarial_start=20)
    uninterrupted = small_dasc(dasc, **settings).fit(X)
    path = tmp_path / "task.pt"
    with pytest.raises(KeyboardInterrupt):
        killed = KilledAfterSaves(path, 10, saves_before_kill)
        small_dasc(dasc, **settings, checkpoint=killed).fit(X)
    saved = torch.load(path, weights_only=False)
    assert saved["stage"] == "finetune"
    state = saved["auxiliaries"]["discriminator"]
    assert {"bases", "optimizer", "generator", "labels", "assignment"} <= set(state)
    if saves_before_kill == 5:  # epoch 30: the discriminator has trained
        assert state["labels"] is not None and state["optimizer"]["state"]
    resumed = small_dasc(dasc, **settings, checkpoint=Checkpoint(path, 10)).fit(X)
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)
    np.testing.assert_array_equal(resumed.labels_, uninterrupted.labels_)
    assert resumed.finetune_loss_ == uninterrupted.finetune_loss_


def test_memory_guard_counts_the_adversarial_parts(dasc, declaration, nonlinear_union):
    X, _ = nonlinear_union
    with pytest.raises(MemoryBudgetError, match="the method's own terms"):
        small_dasc(dasc, memory_budget_mb=1).fit(X)
    context = TrainingContext(10_000, 160, 10, 0, torch.device("cpu"))
    model = small_dasc(dasc)
    (weighted,), (disc,) = model._extra_objective(context)
    extra = weighted.term.memory_bytes(10_000, 160) + disc.memory_bytes(10_000, 160)
    assert extra >= 2 * 4 * 10_000**2  # two n×n float32 mixing-weight blocks at most
    assert declaration.METHOD.memory_mb(10_000, 1024) * 2**20 > extra


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"adversarial_start": 99}, "adversarial_start must be in 0..finetune_epochs"),
        ({"subspace_rank": 64}, "subspace_rank must be in 1..32"),
        ({"cluster_every": 0}, "cluster_every must be >= 1"),
    ],
)
def test_bad_settings_are_refused(dasc, nonlinear_union, overrides, message):
    X, _ = nonlinear_union
    with pytest.raises(ValueError, match=message):
        small_dasc(dasc, pretrain_epochs=1, **overrides).fit(X)


# -- the declaration --------------------------------------------------------------------


OWN = {"adversarial_weight", "adversarial_start", "subspace_rank", "margin", "regularizer"}


def test_declaration(dasc, declaration):
    info = declaration.METHOD
    assert info.id == "dasc" and info.name == "DASC"
    assert info.estimator_class is dasc.DeepAdversarialSubspaceClustering
    assert info.view == "auto" and info.kind == "paper"
    assert {name: v["post_process"] for name, v in info.variants.items()} == {
        "": False,
        "post": True,
    }
    features = {"bbc": "text", "20newsgroups": "text", "fashion-mnist": "images"}
    for dataset_id, kind in features.items():
        params = info.params_for(dataset_id, kind)
        for name, param in params.items():
            source_kind(param.source)  # raises on a source without a known kind
            if name in OWN:
                assert source_kind(param.source)[0] in ("reference", "choice"), name
        estimator = info.estimator_class(
            n_clusters=5, random_state=0, **{k: p.value for k, p in params.items()}
        )
        assert estimator.get_params()["adversarial_weight"] == 1.0
        assert estimator.get_params()["lambda1"] == params["lambda1"].value
        for name in ("subspace_dim", "alpha", "keep_fraction"):
            assert params[f"train_{name}"].value == params[f"post_{name}"].value
    assert info.memory_mb(1000, 256) > info.memory_mb(500, 256) > 0
