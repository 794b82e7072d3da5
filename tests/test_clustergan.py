"""The ClusterGAN plugin: clustering, the gradient penalty, resume, readouts, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from benchmark.checkpoint import Checkpoint
from benchmark.metrics import clustering_accuracy
from benchmark.registry import PROJECT_ROOT, load_module

clustergan = load_module(PROJECT_ROOT / "methods" / "estimators" / "clustergan.py")
declaration = load_module(PROJECT_ROOT / "methods" / "clustergan.py")

SMALL = {
    "noise_dim": 2,
    "dense_hidden": (32, 32),
    "output_activation": "linear",
    "batch_size": 32,
    "use_cache": False,
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gaussian_mixture(n_per_cluster: int = 50, k: int = 3, seed: int = 0):
    """k well-separated Gaussian blobs in 4 dimensions."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per_cluster)
    centres = 2.0 * np.eye(k, 4)
    return (centres[y] + 0.1 * rng.normal(size=(y.size, 4))).astype(np.float32), y


def test_declaration(registry):
    info = registry.method("clustergan")
    assert info.estimator_class is clustergan.ClusterGAN and info.view == "auto"
    assert dict(info.variants) == {"": {"readout": "kmeans"}, "argmax": {"readout": "argmax"}}
    for dataset_id in ("bbc", "20newsgroups", "fashion-mnist", "notmnist"):
        params = info.params_for(dataset_id)
        assert all(p.source for p in params.values()), "every value needs its source"
        assert "CPU budget" in params["n_iterations"].source
        text = dataset_id in ("bbc", "20newsgroups")
        assert params["output_activation"].value == ("linear" if text else "sigmoid")
        info.estimator_class(
            n_clusters=5, random_state=0, **{k: p.value for k, p in params.items()}
        )


def test_memory_estimate_covers_weights_gradients_and_adam_moments():
    networks = clustergan.build_networks((1, 32, 32), 40, (64, 128), 1024, (256, 256), "sigmoid")
    weights_mb = sum(p.numel() for net in networks for p in net.parameters()) * 4 / 2**20
    assert declaration.clustergan_memory_mb(1000, 1024) > 4 * weights_mb
    assert declaration.clustergan_memory_mb(10_000, 1024) > declaration.clustergan_memory_mb(
        1000, 1024
    )


@pytest.mark.parametrize(
    ("shape", "latent_dim", "conv", "fc", "hidden"),
    [
        ((1, 32, 32), 50, (64, 128), 1024, (256, 256)),
        ((1, 32, 32), 12, (8, 16), 64, (256, 256)),
        ((256,), 50, (64, 128), 1024, (256, 256)),
        ((7,), 3, (64, 128), 1024, (5, 9, 4)),
    ],
)
def test_the_memory_estimate_counts_the_parameters_the_networks_have(
    shape, latent_dim, conv, fc, hidden
):
    """The declaration counts parameters without PyTorch; the count must match the networks."""
    activation = "sigmoid" if len(shape) == 3 else "linear"
    with torch.device("meta"):
        networks = clustergan.build_networks(shape, latent_dim, conv, fc, hidden, activation)
    built = sum(p.numel() for net in networks for p in net.parameters())
    assert declaration.parameter_count(shape, latent_dim, conv, fc, hidden) == built


def test_image_networks_take_32_by_32_and_generate_pixels():
    generator, critic, encoder = clustergan.build_networks(
        (1, 32, 32), 40, (64, 128), 1024, (256, 256), "sigmoid"
    )
    images = generator(torch.randn(5, 40))
    assert images.shape == (5, 1, 32, 32)
    assert images.min() >= 0 and images.max() <= 1
    assert critic(images).shape == (5, 1) and encoder(images).shape == (5, 40)


def test_clusters_a_mixture_better_than_chance():
    X, y = gaussian_mixture()
    model = clustergan.ClusterGAN(n_clusters=3, random_state=0, n_iterations=100, **SMALL)
    labels = model.fit_predict(X)
    assert clustering_accuracy(y, labels) > 1 / 3 + 0.4
    assert np.isfinite(model.objective_) and model.objective_ == model.loss_history_[-1][2]
    assert model.n_iter_ == 100 and len(model.loss_history_) == 20


def test_gradient_penalty_matches_a_direct_computation():
    real = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0], [-1.0, 1.0]])
    epsilon = 0.25
    # D(x) = w·x has gradient w everywhere: penalty (‖w‖ − 1)².
    w = torch.tensor([3.0, 4.0])
    linear = clustergan.gradient_penalty(lambda x: x @ w, real, fake, epsilon)
    assert linear.item() == pytest.approx((5.0 - 1.0) ** 2)
    # D(x) = ½‖x‖² has gradient x̂ itself: penalty mean over x̂ of (‖x̂‖ − 1)².
    quadratic = clustergan.gradient_penalty(lambda x: 0.5 * (x**2).sum(1), real, fake, epsilon)
    mixed = epsilon * real.numpy() + (1 - epsilon) * fake.numpy()
    expected = np.mean((np.linalg.norm(mixed, axis=1) - 1) ** 2)
    assert quadratic.item() == pytest.approx(expected, rel=1e-6)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    critic = torch.nn.Linear(2, 1)
    penalty = clustergan.gradient_penalty(critic, torch.ones(4, 2), torch.zeros(4, 2), 0.5)
    penalty.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


class KilledAfterFirstSave(Checkpoint):
    """A checkpoint whose process dies right after the first save."""

    def save(self, state):
        super().save(state)
        raise KeyboardInterrupt("killed after a checkpoint")


def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_result(tmp_path):
    X, _ = gaussian_mixture(n_per_cluster=20)
    settings = {"n_clusters": 3, "random_state": 3, "n_iterations": 12, **SMALL}
    path = tmp_path / "task.pt"
    with pytest.raises(KeyboardInterrupt):
        clustergan.ClusterGAN(**settings, checkpoint=KilledAfterFirstSave(path, every=5)).fit(X)
    assert torch.load(path, weights_only=False)["iteration"] == 5
    resumed = clustergan.ClusterGAN(**settings, checkpoint=Checkpoint(path, every=5)).fit(X)
    uninterrupted = clustergan.ClusterGAN(**settings).fit(X)
    np.testing.assert_array_equal(resumed.labels_, uninterrupted.labels_)
    np.testing.assert_array_equal(resumed.latent_, uninterrupted.latent_)
    assert resumed.loss_history_ == uninterrupted.loss_history_


def test_the_two_readouts_and_their_shared_training(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path))
    X, _ = gaussian_mixture(n_per_cluster=20)
    settings = {**SMALL, "use_cache": True, "snapshot_every": 5}
    kmeans = clustergan.ClusterGAN(n_clusters=3, random_state=1, n_iterations=10, **settings)
    argmax = clustergan.ClusterGAN(
        n_clusters=3, random_state=1, n_iterations=10, readout="argmax", **settings
    )
    kmeans.fit(X), argmax.fit(X)
    assert not kmeans.cached_ and argmax.cached_, "the argmax variant reuses the training"
    np.testing.assert_array_equal(kmeans.latent_, argmax.latent_)
    softmax_part = kmeans.latent_[:, SMALL["noise_dim"] :]
    np.testing.assert_allclose(softmax_part.sum(axis=1), 1.0)
    np.testing.assert_array_equal(argmax.labels_, softmax_part.argmax(axis=1))
    expected = KMeans(3, n_init=10, random_state=1).fit_predict(kmeans.latent_)
    np.testing.assert_array_equal(kmeans.labels_, expected)
    assert sorted(kmeans.label_history_) == [5, 10]
    np.testing.assert_array_equal(argmax.label_history_[10], argmax.labels_)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"readout": "mean"}, "unknown readout 'mean'"),
        ({"critic_steps": 0}, "critic_steps must be a positive integer"),
        ({"output_activation": "tanh"}, "unknown output_activation"),
        ({"noise_std": 0.0}, "noise_std must be positive"),
    ],
)
def test_bad_parameters_get_clear_errors(override, message):
    X, _ = gaussian_mixture(n_per_cluster=5)
    with pytest.raises(ValueError, match=message):
        clustergan.ClusterGAN(n_clusters=3, **{**SMALL, **override}).fit(X)


def test_images_of_another_size_get_a_clear_error():
    images = np.zeros((6, 1, 28, 28), dtype=np.float32)
    with pytest.raises(ValueError, match=r"take \(n, 1, 32, 32\) arrays"):
        clustergan.ClusterGAN(n_clusters=2, n_iterations=1, use_cache=False).fit(images)
