"""LRSC's Algorithm 1 (MAML on subspace-clustering episodes) on a toy union of subspaces."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep.autoencoders import build_autoencoder
from benchmark.deep.meta_learning import (
    EpisodeNetwork,
    MetaLearningSettings,
    adapted_loss,
    episode_loss,
    fit_coefficients,
    meta_learn,
    meta_loss,
    meta_step,
    sample_episode,
)
from benchmark.synthetic import union_of_subspaces

NETWORK = dict(conv_channels=(), kernel_size=3, dense_hidden=(12,), output_activation="linear")
SETTINGS = MetaLearningSettings(
    n_classes=3,
    samples_per_class=6,
    train_per_class=3,
    tasks_per_step=2,
    outer_steps=3,
    outer_lr=1e-2,
    inner_steps=1,
    inner_lr=1e-3,
    lambda3=1.0,
    lambda4=0.1,
    regularizer="l2",
    coef_steps=20,
    coef_lr=1e-2,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def meta_data() -> tuple[np.ndarray, np.ndarray]:
    """6 classes of 10 points on 2-dimensional subspaces of R^16."""
    X, y = union_of_subspaces(6, 2, 16, 10, noise=0.01, seed=0)
    return X.astype(np.float32), y


def network_for(dim: int, seed: int = 0) -> EpisodeNetwork:
    return EpisodeNetwork(
        build_autoencoder((dim,), (), 3, NETWORK["dense_hidden"], "linear", seed=seed)
    )


def test_episodes_hold_n_classes_of_m_points_split_class_by_class(meta_data):
    _, y = meta_data
    episode = sample_episode(y, SETTINGS, np.random.default_rng(0))
    assert len(episode.train) == 9 and len(episode.test) == 9
    assert set(episode.train).isdisjoint(episode.test)
    classes = set(y[episode.train])
    assert len(classes) == 3 and classes == set(y[episode.test])
    assert all((y[episode.train] == c).sum() == 3 for c in classes)


def test_episodes_stay_within_one_group(meta_data):
    _, y = meta_data
    groups = np.arange(len(y)) % 2  # two halves, 5 points of every class in each
    settings = dataclasses.replace(SETTINGS, samples_per_class=4, train_per_class=2)
    rng = np.random.default_rng(1)
    for _ in range(10):
        episode = sample_episode(y, settings, rng, groups)
        assert len(set(groups[np.concatenate([episode.train, episode.test])])) == 1


def test_fitted_coefficients_have_a_zero_diagonal_and_lower_eq6(meta_data):
    X, _ = meta_data
    network = network_for(X.shape[1])
    x = torch.from_numpy(X[:12])
    params = dict(network.named_parameters())
    settings = dataclasses.replace(SETTINGS, coef_steps=100)
    fitted = fit_coefficients(network, params, x, settings)
    assert torch.all(fitted.diagonal() == 0) and not fitted.requires_grad
    start = fit_coefficients(network, params, x, dataclasses.replace(settings, coef_steps=0))
    with torch.no_grad():
        fitted_loss = episode_loss(network, params, x, fitted, None, settings)
        start_loss = episode_loss(network, params, x, start, None, settings)
    assert fitted_loss < 0.9 * start_loss


def test_maml_outer_steps_lower_the_meta_loss_on_fixed_episodes(meta_data):
    X, y = meta_data
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    episodes = [sample_episode(y, SETTINGS, rng) for _ in range(3)]
    data = torch.from_numpy(X)
    network = network_for(X.shape[1])
    optimizer = torch.optim.Adam(network.parameters(), lr=SETTINGS.outer_lr)
    before = float(meta_loss(network, data, None, episodes, SETTINGS).detach())
    first = meta_step(network, optimizer, data, None, episodes, SETTINGS)
    assert first == pytest.approx(before, rel=1e-5)  # meta_step reports the loss before it
    second = meta_step(network, optimizer, data, None, episodes, SETTINGS)
    assert second < first  # one outer step already lowers it
    for _ in range(3):
        meta_step(network, optimizer, data, None, episodes, SETTINGS)
    after = float(meta_loss(network, data, None, episodes, SETTINGS).detach())
    assert after < 0.9 * before


def test_second_order_differentiates_through_the_inner_step(meta_data):
    X, y = meta_data
    episode = sample_episode(y, SETTINGS, np.random.default_rng(2))
    data = torch.from_numpy(X)
    network = network_for(X.shape[1])
    settings = dataclasses.replace(SETTINGS, inner_lr=1e-2)

    def meta_gradient(first_order: bool) -> torch.Tensor:
        params = dict(network.named_parameters())
        chosen = dataclasses.replace(settings, first_order=first_order)
        loss = adapted_loss(network, params, data, None, episode, chosen)
        grads = torch.autograd.grad(loss, list(params.values()))
        return torch.cat([g.flatten() for g in grads])

    second, first = meta_gradient(False), meta_gradient(True)
    assert torch.isfinite(second).all() and torch.isfinite(first).all()
    assert not torch.allclose(second, first)  # the Hessian term is there
    assert torch.nn.functional.cosine_similarity(second, first, dim=0) > 0.5


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_learn_returns_the_meta_learner(meta_data, first_order):
    X, y = meta_data
    settings = dataclasses.replace(SETTINGS, first_order=first_order, regularizer="l1")
    result = meta_learn(X, y, settings, seed=0, device="cpu", **NETWORK)
    assert len(result.history) == 3 and all(np.isfinite(result.history))
    fresh = build_autoencoder((16,), (), 3, (12,), "linear", seed=0)
    fresh.load_state_dict(result.state_dict)
    assert not torch.equal(fresh.state_dict()["encoder.0.weight"], build_autoencoder(
        (16,), (), 3, (12,), "linear", seed=0
    ).state_dict()["encoder.0.weight"])  # fmt: skip


def test_distillation_term_uses_the_teachers_features(meta_data):
    X, y = meta_data
    features = np.eye(6, dtype=np.float32)[y] * 3.0  # a teacher that knows the classes
    settings = dataclasses.replace(SETTINGS, eta=1.0, temperature=1.0, outer_steps=1)
    with_teacher = meta_learn(
        X, y, settings, seed=0, device="cpu", teacher_features=features, **NETWORK
    )
    without = meta_learn(
        X, y, dataclasses.replace(settings, eta=0.0), seed=0, device="cpu", **NETWORK
    )
    assert with_teacher.history[0] > without.history[0]  # the η term adds a positive amount
    with pytest.raises(ValueError, match="teacher's features"):
        meta_learn(X, y, settings, seed=0, device="cpu", **NETWORK)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(meta_data, tmp_path):
    X, y = meta_data
    checkpoint = Checkpoint(tmp_path / "state.pt", every=2)
    four = dataclasses.replace(SETTINGS, outer_steps=4)
    meta_learn(X, y, dataclasses.replace(four, outer_steps=2), seed=0, device="cpu",
               checkpoint=checkpoint, **NETWORK)  # fmt: skip
    saved = checkpoint.load()
    assert saved["stage"] == "meta-learning" and saved["epoch"] == 2
    resumed = meta_learn(X, y, four, seed=0, device="cpu", resume=saved, **NETWORK)
    straight = meta_learn(X, y, four, seed=0, device="cpu", **NETWORK)
    assert resumed.history == straight.history
    for name, tensor in straight.state_dict.items():
        torch.testing.assert_close(resumed.state_dict[name], tensor)


def test_impossible_settings_are_refused(meta_data):
    X, y = meta_data
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        meta_learn(X, y, dataclasses.replace(SETTINGS, n_classes=1), seed=0, **NETWORK)
    with pytest.raises(ValueError, match="at least 11 points"):
        meta_learn(X, y, dataclasses.replace(SETTINGS, samples_per_class=11), seed=0, **NETWORK)
    with pytest.raises(ValueError, match="needs 7 classes"):
        meta_learn(X, y, dataclasses.replace(SETTINGS, n_classes=7), seed=0, **NETWORK)
    with pytest.raises(ValueError, match="train_per_class"):
        meta_learn(X, y, dataclasses.replace(SETTINGS, train_per_class=6), seed=0, **NETWORK)
    with pytest.raises(ValueError, match="one label each"):
        meta_learn(X, y[:5], SETTINGS, seed=0, **NETWORK)


def test_convolutional_base_learner_runs_second_order():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 6)
    X = (rng.random((3, 1, 8, 8))[y] + 0.1 * rng.random((18, 1, 8, 8))).astype(np.float32)
    settings = dataclasses.replace(
        SETTINGS, samples_per_class=4, train_per_class=2, outer_steps=2, coef_steps=5
    )
    result = meta_learn(
        X, y, settings, conv_channels=(3,), kernel_size=3, dense_hidden=(),
        output_activation="relu", seed=0, device="cpu",
    )  # fmt: skip
    assert len(result.history) == 2 and all(np.isfinite(result.history))
    assert result.state_dict["encoder.0.weight"].shape == (3, 1, 3, 3)
