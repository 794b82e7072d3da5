"""The estimator of ``clustergan``: ClusterGAN, the paper's deep-clustering baseline.

Mukherjee, Asnani, Lin & Kannan, "ClusterGAN: Latent Space Clustering in Generative
Adversarial Networks", AAAI 2019, and the authors' TensorFlow code
(github.com/sudiptodip15/ClusterGAN, ``Image_ClusterGAN.py`` with ``fashion/clus_wgan.py``
for images and ``10x_73k/mlp.py`` for real-valued vectors).

A generator G maps a latent z = (zₙ, z_c), zₙ ~ N(0, σ²I) (σ = 0.1, 30 dimensions) and
z_c a uniformly drawn one-hot vector of the K clusters, to data; an encoder E maps data
back to (ẑₙ, logits of ẑ_c); a WGAN-GP critic D tells real from generated data. The
paper's objective with the Wasserstein choice q(x) = x, trained as the reference code does:

    critic (5 steps per generator step):
        L_D = E_x D(x) − E_z D(G(z)) + λ E_x̂ (‖∇_x̂ D(x̂)‖₂ − 1)²,  x̂ = εx + (1 − ε)G(z)
    generator and encoder (one step, one joint Adam):
        L_GE = E_z D(G(z)) + βₙ E‖zₙ − E(G(z))ₙ‖² + β_c E H(z_c, softmax E(G(z))_c)

(the reference code's signs: the critic scores real data low; the paper's min-max is the
same game). ‖·‖² is averaged over the batch and the 30 coordinates and H is the
cross-entropy, as in the reference code; ε is one uniform draw per batch there, and here.
λ = 10, βₙ = β_c = 10, Adam 1e-4 with betas (0.5, 0.9), batch 64.

Clusters are read from the encoder on the data: ``readout="kmeans"`` (the reference code's
``recon_enc``) runs k-means on (ẑₙ, softmax ẑ_c); ``readout="argmax"`` takes the most
likely one-hot index. Both readouts of one training run share it through the artefact
cache, so the two variants train once.

Networks. Images (n, 1, 32, 32), the reference Fashion-MNIST networks with "SAME"-like
padding on 32×32 instead of 28×28 inputs: D and E are conv64 → conv128 (4×4, stride 2,
padding 1, leaky ReLU 0.2: 32 → 16 → 8) → FC1024 (leaky ReLU) → 1 or 30 + K outputs;
G is FC1024 → FC 8·8·128 (the reference's 7·7·128 for 28×28) → deconv64 → deconv1
(4×4, stride 2, padding 1: 8 → 16 → 32) with batch norm and ReLU after the first three
layers and a sigmoid output. Vectors (n, D): the reference MLPs for real-valued data
(``10x_73k/mlp.py``): two hidden layers of 256 units with leaky ReLU in all three
networks and a linear generator output. Weights N(0, 0.02²), biases 0, the last layer of
D and E Glorot-uniform (TensorFlow's default there). Batch norm follows
``tf.contrib.layers.batch_norm`` as the reference code runs it: shift but no scale,
ε = 1e-3, always batch statistics (the reference never switches to inference mode). The
reference code's L2 weight regularisers are never added to its losses, so they are
omitted.

The reference trains for up to 500,000 generator iterations; ``n_iterations`` is the
budget here (see the per-dataset parameters). Real batches are drawn uniformly with
replacement. With a ``checkpoint``, the three networks, both optimisers, the random state
and the histories are saved every ``checkpoint.every`` generator iterations and a rerun
resumes from them; on the CPU a run is reproducible from ``random_state``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from torch import nn

from benchmark.checkpoint import Checkpoint
from benchmark.deep import ArtifactCache, array_digest, resolve_device
from benchmark.deep.artifact_cache import CODE_VERSIONS
from benchmark.registry import load_module

log = logging.getLogger(__name__)

# The image side, declared in methods/clustergan.py with the memory estimate.
IMAGE_SIDE: int = load_module(Path(__file__).resolve().parents[1] / "clustergan.py").IMAGE_SIDE

TRAINING_CODE_VERSION = CODE_VERSIONS["clustergan"]
"""Bumped (there) when the training code changes what a cached encoding means."""

TRAINING_SETTINGS = (
    "n_iterations", "noise_dim", "noise_std", "beta_n", "beta_c", "penalty_weight",
    "critic_steps", "batch_size", "lr", "adam_betas", "conv_channels", "fc_units",
    "dense_hidden", "output_activation", "snapshot_every",
)  # fmt: skip
"""The parameters that determine a training run and its snapshots (not the readout)."""
READOUTS = ("kmeans", "argmax")
OUTPUT_ACTIVATIONS = ("sigmoid", "linear")
LEAK = 0.2
INIT_STD = 0.02
ENCODE_BATCH = 256


# -- networks ----------------------------------------------------------------------


def _shift_only_batch_norm(channels: int, dims: int) -> nn.Module:
    """TF-contrib batch norm as the reference runs it: batch statistics, shift, no scale."""
    norm_class = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    norm = norm_class(channels, eps=1e-3, track_running_stats=False)
    norm.weight.requires_grad_(False)
    return norm


def _conv_features(channels: Sequence[int], fc_units: int, side: int) -> list[nn.Module]:
    """conv → conv (4×4, stride 2, leaky ReLU) → FC (leaky ReLU): D's and E's trunk."""
    layers: list[nn.Module] = []
    previous = 1
    for width in channels:
        layers += [nn.Conv2d(previous, width, 4, 2, 1), nn.LeakyReLU(LEAK)]
        previous = width
    reduced = side // 2 ** len(channels)
    layers += [nn.Flatten(), nn.Linear(previous * reduced**2, fc_units), nn.LeakyReLU(LEAK)]
    return layers


def _dense_features(in_dim: int, hidden: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.LeakyReLU(LEAK)]
        in_dim = width
    return layers


class _ConvGenerator(nn.Module):
    """FC → FC → reshape → deconv → deconv (4×4, stride 2), batch norm + ReLU, sigmoid."""

    def __init__(self, latent_dim: int, channels: Sequence[int], fc_units: int, side: int):
        super().__init__()
        deep, shallow = channels[-1], channels[0]
        self.start = side // 2 ** len(channels)
        self.deep = deep
        self.dense = nn.Sequential(
            nn.Linear(latent_dim, fc_units),
            _shift_only_batch_norm(fc_units, 1),
            nn.ReLU(),
            nn.Linear(fc_units, deep * self.start**2),
        )
        self.deconv = nn.Sequential(
            _shift_only_batch_norm(deep, 2),
            nn.ReLU(),
            nn.ConvTranspose2d(deep, shallow, 4, 2, 1),
            _shift_only_batch_norm(shallow, 2),
            nn.ReLU(),
            nn.ConvTranspose2d(shallow, 1, 4, 2, 1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hidden = self.dense(z).view(-1, self.deep, self.start, self.start)
        return self.deconv(hidden)


def build_networks(
    sample_shape: tuple[int, ...],
    latent_dim: int,
    conv_channels: Sequence[int],
    fc_units: int,
    dense_hidden: Sequence[int],
    output_activation: str,
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(generator, critic, encoder) for images (1, 32, 32) or vectors (D,)."""
    if len(sample_shape) == 3:
        if sample_shape != (1, IMAGE_SIDE, IMAGE_SIDE):
            raise ValueError(
                f"ClusterGAN's image networks take (n, 1, {IMAGE_SIDE}, {IMAGE_SIDE}) arrays, "
                f"got samples of shape {sample_shape}; pass vectors (n, D) for other data"
            )
        if output_activation != "sigmoid":
            raise ValueError("image generators end in a sigmoid; set output_activation='sigmoid'")
        generator: nn.Module = _ConvGenerator(latent_dim, conv_channels, fc_units, IMAGE_SIDE)
        critic_last = nn.Linear(fc_units, 1)
        encoder_last = nn.Linear(fc_units, latent_dim)
        critic = nn.Sequential(*_conv_features(conv_channels, fc_units, IMAGE_SIDE), critic_last)
        encoder = nn.Sequential(*_conv_features(conv_channels, fc_units, IMAGE_SIDE), encoder_last)
    else:
        (dim,) = sample_shape
        width = dense_hidden[-1]
        output: list[nn.Module] = [nn.Sigmoid()] if output_activation == "sigmoid" else []
        generator = nn.Sequential(
            *_dense_features(latent_dim, dense_hidden), nn.Linear(width, dim), *output
        )
        critic_last, encoder_last = nn.Linear(width, 1), nn.Linear(width, latent_dim)
        critic = nn.Sequential(*_dense_features(dim, dense_hidden), critic_last)
        encoder = nn.Sequential(*_dense_features(dim, dense_hidden), encoder_last)
    for network in (generator, critic, encoder):
        for module in network.modules():
            if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(module.weight, 0.0, INIT_STD)
                nn.init.zeros_(module.bias)
    for last in (critic_last, encoder_last):
        nn.init.xavier_uniform_(last.weight)
    return generator, critic, encoder


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    epsilon: torch.Tensor | float,
) -> torch.Tensor:
    """WGAN-GP's E (‖∇ D(x̂)‖₂ − 1)² at x̂ = εx + (1 − ε)x̃, differentiable in D's weights."""
    mixed = (epsilon * real + (1 - epsilon) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


# -- estimator ---------------------------------------------------------------------


class ClusterGAN(ClusterMixin, BaseEstimator):
    """ClusterGAN (Mukherjee et al., AAAI 2019): WGAN-GP with a one-hot latent and an encoder.

    See the module docstring for the losses, networks and readouts. ``fit`` takes images
    (n, 1, 32, 32) or vectors (n, D). Learned attributes: ``labels_``, ``latent_`` (the
    encoder's (ẑₙ, softmax ẑ_c) per point), ``n_iter_`` (generator iterations),
    ``objective_`` (the last generator loss L_GE), ``loss_history_`` (iteration,
    L_D, L_GE at every logged iteration), ``label_history_`` (iteration → labels of
    both readouts, every ``snapshot_every`` iterations when set; for learning curves)
    and ``cached_`` (whether the training came from the artefact cache).
    """

    def __init__(
        self,
        n_clusters: int = 2,
        random_state: int | None = None,
        readout: str = "kmeans",
        n_iterations: int = 1000,
        noise_dim: int = 30,
        noise_std: float = 0.1,
        beta_n: float = 10.0,
        beta_c: float = 10.0,
        penalty_weight: float = 10.0,
        critic_steps: int = 5,
        batch_size: int = 64,
        lr: float = 1e-4,
        adam_betas: Sequence[float] = (0.5, 0.9),
        conv_channels: Sequence[int] = (64, 128),
        fc_units: int = 1024,
        dense_hidden: Sequence[int] = (256, 256),
        output_activation: str = "sigmoid",
        kmeans_n_init: int = 10,
        snapshot_every: int | None = None,
        device: str = "auto",
        use_cache: bool = True,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.readout = readout
        self.n_iterations = n_iterations
        self.noise_dim = noise_dim
        self.noise_std = noise_std
        self.beta_n = beta_n
        self.beta_c = beta_c
        self.penalty_weight = penalty_weight
        self.critic_steps = critic_steps
        self.batch_size = batch_size
        self.lr = lr
        self.adam_betas = adam_betas
        self.conv_channels = conv_channels
        self.fc_units = fc_units
        self.dense_hidden = dense_hidden
        self.output_activation = output_activation
        self.kmeans_n_init = kmeans_n_init
        self.snapshot_every = snapshot_every
        self.device = device
        self.use_cache = use_cache
        self.checkpoint = checkpoint

    # -- checks -------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.readout not in READOUTS:
            raise ValueError(f"unknown readout {self.readout!r}; choose one of {READOUTS}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"unknown output_activation {self.output_activation!r}; "
                f"choose one of {OUTPUT_ACTIVATIONS}"
            )
        positive = {
            "n_clusters": self.n_clusters,
            "n_iterations": self.n_iterations,
            "noise_dim": self.noise_dim,
            "critic_steps": self.critic_steps,
            "batch_size": self.batch_size,
            "fc_units": self.fc_units,
            "kmeans_n_init": self.kmeans_n_init,
        }
        for name, value in positive.items():
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("noise_std", "lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("beta_n", "beta_c", "penalty_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.snapshot_every is not None and self.snapshot_every < 1:
            raise ValueError(f"snapshot_every must be None or >= 1, got {self.snapshot_every}")

    def _validate_input(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim not in (2, 4):
            raise ValueError(
                f"expected vectors (n, D) or images (n, 1, H, W), got an array of shape {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite values; clean or impute them first")
        if X.shape[0] < self.n_clusters:
            raise ValueError(
                f"ClusterGAN needs at least n_clusters = {self.n_clusters} samples, "
                f"got {X.shape[0]}"
            )
        return np.ascontiguousarray(X)

    # -- fit ----------------------------------------------------------------------

    def fit(self, X, y=None) -> ClusterGAN:
        """Train G, D and E on ``X`` (or take the cached training), then read clusters out."""
        self._check_params()
        X = self._validate_input(X)
        seed = (
            int(np.random.default_rng().integers(2**31))
            if self.random_state is None
            else int(self.random_state)
        )
        key = self._training_key(X, seed)
        if self.use_cache:
            result, self.cached_ = ArtifactCache("clustergan").get_or_build(
                key, lambda: self._train(X, seed, key)
            )
        else:
            result, self.cached_ = self._train(X, seed, key), False
        latent_noise, logits = result["latent_noise"], result["logits"]
        self.latent_ = _readout_latent(latent_noise, logits)
        self.labels_ = self._read_out(latent_noise, logits, seed)[self.readout]
        self.loss_history_ = [tuple(row) for row in result["loss_history"]]
        self.label_history_ = {
            step: labels[self.readout] for step, labels in result["label_history"].items()
        }
        self.n_iter_ = int(result["iterations"])
        self.objective_ = float(self.loss_history_[-1][2])
        return self

    def _training_key(self, X: np.ndarray, seed: int) -> dict[str, Any]:
        """Everything that determines the training and its snapshots (not the readout)."""
        return {
            "method": "clustergan",
            "code_version": TRAINING_CODE_VERSION,
            "data": array_digest(X),
            "seed": seed,
            "n_clusters": self.n_clusters,
            "settings": {name: getattr(self, name) for name in TRAINING_SETTINGS},
        }

    def _train(self, X: np.ndarray, seed: int, key: dict[str, Any]) -> dict[str, Any]:
        device = resolve_device(self.device)
        latent_dim = self.noise_dim + self.n_clusters
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            networks = build_networks(
                tuple(X.shape[1:]),
                latent_dim,
                self.conv_channels,
                self.fc_units,
                self.dense_hidden,
                self.output_activation,
            )
        generator, critic, encoder = (network.to(device) for network in networks)
        betas = tuple(float(b) for b in self.adam_betas)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=self.lr, betas=betas)
        trainable = [p for p in [*generator.parameters(), *encoder.parameters()] if p.requires_grad]
        generator_opt = torch.optim.Adam(trainable, lr=self.lr, betas=betas)
        modules = {
            "generator": generator,
            "critic": critic,
            "encoder": encoder,
            "critic_opt": critic_opt,
            "generator_opt": generator_opt,
        }
        rng = torch.Generator().manual_seed(seed)
        data = torch.from_numpy(X).to(device)
        loss_history: list[tuple[int, float, float]] = []
        label_history: dict[int, dict[str, np.ndarray]] = {}
        start = 0
        state = self._saved_state(key)
        if state is not None:
            for name, module in modules.items():
                module.load_state_dict(state[name])
            rng.set_state(state["rng"])
            loss_history, label_history = list(state["loss_history"]), dict(state["label_history"])
            start = int(state["iteration"])
        log_every = max(1, self.n_iterations // 20)
        began = time.monotonic()
        for step in range(start + 1, self.n_iterations + 1):
            for _ in range(self.critic_steps):
                d_loss = self._critic_step(generator, critic, critic_opt, data, rng)
            g_loss = self._generator_step(generator, critic, encoder, generator_opt, rng)
            if step % log_every == 0 or step == self.n_iterations:
                loss_history.append((step, d_loss, g_loss))
                per_step = (time.monotonic() - began) / (step - start)
                log.info(
                    "iteration %d/%d: L_D = %.4g, L_GE = %.4g, about %.0f s left",
                    step, self.n_iterations, d_loss, g_loss,
                    per_step * (self.n_iterations - step),
                )  # fmt: skip
            if self.snapshot_every and step % self.snapshot_every == 0:
                noise, logits = _encode(encoder, data, self.noise_dim)
                label_history[step] = self._read_out(noise, logits, seed)
            if self.checkpoint is not None and self.checkpoint.due(step):
                self.checkpoint.save(
                    {
                        "key": key,
                        "iteration": step,
                        "rng": rng.get_state(),
                        "loss_history": loss_history,
                        "label_history": label_history,
                        **{name: module.state_dict() for name, module in modules.items()},
                    }
                )
        if not loss_history:
            raise ValueError("no training iteration ran; n_iterations must be >= 1")
        noise, logits = _encode(encoder, data, self.noise_dim)
        return {
            "latent_noise": noise,
            "logits": logits,
            "loss_history": loss_history,
            "label_history": label_history,
            "iterations": self.n_iterations,
        }

    def _sample_latent(self, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """z = (zₙ, z_c) for one batch, and the index of each one-hot part."""
        noise = self.noise_std * torch.randn(self.batch_size, self.noise_dim, generator=rng)
        index = torch.randint(self.n_clusters, (self.batch_size,), generator=rng)
        one_hot = nn.functional.one_hot(index, self.n_clusters).float()
        return torch.cat([noise, one_hot], dim=1), index

    def _critic_step(self, generator, critic, optimiser, data, rng) -> float:
        device = data.device
        real = data[torch.randint(data.shape[0], (self.batch_size,), generator=rng).to(device)]
        z, _ = self._sample_latent(rng)
        epsilon = torch.rand((), generator=rng).to(device)
        with torch.no_grad():
            fake = generator(z.to(device)).view_as(real)
        loss = critic(real).mean() - critic(fake).mean()
        loss = loss + self.penalty_weight * gradient_penalty(critic, real, fake, epsilon)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.item()

    def _generator_step(self, generator, critic, encoder, optimiser, rng) -> float:
        z, index = self._sample_latent(rng)
        device = next(generator.parameters()).device
        z, index = z.to(device), index.to(device)
        fake = generator(z)
        encoded = encoder(fake)
        noise_loss = ((z[:, : self.noise_dim] - encoded[:, : self.noise_dim]) ** 2).mean()
        class_loss = nn.functional.cross_entropy(encoded[:, self.noise_dim :], index)
        loss = critic(fake).mean() + self.beta_n * noise_loss + self.beta_c * class_loss
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.item()

    def _read_out(
        self, latent_noise: np.ndarray, logits: np.ndarray, seed: int
    ) -> dict[str, np.ndarray]:
        """Labels of both readouts: k-means on (ẑₙ, softmax ẑ_c), and argmax ẑ_c."""
        kmeans = KMeans(self.n_clusters, n_init=self.kmeans_n_init, random_state=seed)
        return {
            "kmeans": kmeans.fit_predict(_readout_latent(latent_noise, logits)),
            "argmax": logits.argmax(axis=1),
        }

    def _saved_state(self, key: dict[str, Any]) -> dict[str, Any] | None:
        if self.checkpoint is None:
            return None
        state = self.checkpoint.load()
        if state is None:
            return None
        if state.get("key") != key:
            log.warning("ignoring checkpoint %s: saved by another configuration", self.checkpoint)
            return None
        log.info("resuming from %s at iteration %d", self.checkpoint, state["iteration"])
        return state


def _encode(
    encoder: nn.Module, data: torch.Tensor, noise_dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's (ẑₙ, logits of ẑ_c) for every sample, in batches."""
    with torch.no_grad():
        codes = torch.cat([encoder(batch) for batch in data.split(ENCODE_BATCH)])
    codes_np = codes.cpu().numpy().astype(np.float64)
    return codes_np[:, :noise_dim], codes_np[:, noise_dim:]


def _readout_latent(latent_noise: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """(ẑₙ, softmax ẑ_c): what the reference code's ``recon_enc`` clusters with k-means."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.hstack([latent_noise, shifted / shifted.sum(axis=1, keepdims=True)])
