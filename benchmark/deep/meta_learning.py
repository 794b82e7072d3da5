"""LRSC's task-level transfer (Li et al., AAAI 2021): Algorithm 1, MAML on clustering episodes.

An episode T is a small subspace-clustering task drawn from the meta data M: N classes
× m points each, split class by class into a training split M_tr (``train_per_class``
points) and a test split M_te (the rest). The base learner is the target's auto-encoder
(:func:`benchmark.deep.autoencoders.build_autoencoder`) with a self-expression matrix C̃
over the split's points; its loss is Eq. (6):

    L_e = ½ Σ_i ‖x_i − x̃_i‖² + λ3/2 ‖Z̃ − Z̃C̃‖²_F + λ4 R(C̃) + η/2 Σ_{i≠j} W_ij ‖Z̃_i − Z̃_j‖²,

R = ‖C̃‖₁ or ‖C̃‖²_F, diag(C̃) = 0, W from the teacher's features of the split's points
(Eq. 5, :mod:`benchmark.deep.distillation`). Algorithm 1, per outer step: sample
``tasks_per_step`` episodes; for each, update the network weights θ → θ_i by
``inner_steps`` gradient steps on L_e(·; M_tr) (S1-S4), then evaluate L_e(θ_i; M_te);
update the meta-learner θ with Adam on Σ_i L_e(θ_i; M_te) (MAML, Finn et al. 2017),
differentiating through the inner steps (second order) or not (``first_order``). The
inner steps run the network through :func:`torch.func.functional_call` with the updated
weights.

How C̃ is handled. Algorithm 1 initialises C̃ beside θ but outputs the meta-learner θ
alone, and Algorithm 2 starts the target from θ with a C of its own: C̃ is not
meta-learned. C̃ is a matrix over one split's points, and M_tr and M_te are
"non-overlapping", so the C̃ of M_tr cannot write M_te's points: L_e(θ_i; M_te) needs
a C̃ of M_te. We therefore give each split its own C̃ (a plain autograd tensor, zero
diagonal), fitted to the network in hand before the loss is used: ``coef_steps`` Adam
steps on L_e over C̃ alone (the network fixed), as Eq. (1)'s C is learned by gradient
steps on the target. The fitted C̃ then enters the loss as a constant. For a C̃ at its
optimum the gradient with respect to the weights is the same whether or not C̃ is
differentiated as a function of them (∂L_e/∂C̃ = 0), so treating it as a constant is
exact there and spares a third level of differentiation. Closed forms exist only for
the Frobenius norm, not for ‖C̃‖₁ (LRSC-L1).

When the teacher's features come from two cross-fitted teachers
(:mod:`benchmark.deep.teacher`), ``groups`` tells which teacher gave each point's
features, and every episode is drawn from one group, so that W compares features of
one network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from benchmark.checkpoint import Checkpoint
from benchmark.deep.autoencoders import build_autoencoder
from benchmark.deep.distillation import distillation_loss, teacher_affinity
from benchmark.deep.estimator import resolve_device
from benchmark.deep.self_expression import check_regularizer

log = logging.getLogger(__name__)

Parameters = dict[str, torch.Tensor]


@dataclass(frozen=True)
class MetaLearningSettings:
    """Algorithm 1's episodes, steps and the weights of Eq. (6).

    Episodes: ``n_classes`` (N) classes × ``samples_per_class`` (m) points, of which
    ``train_per_class`` go to M_tr. Inner loop: ``inner_steps`` plain gradient steps of
    size ``inner_lr``; outer loop: ``outer_steps`` Adam steps of size ``outer_lr`` on the
    sum over ``tasks_per_step`` episodes. C̃: ``coef_steps`` Adam steps of size
    ``coef_lr`` from ``coef_init`` (off the diagonal). Eq. (6): λ3, λ4, ``regularizer``
    (``l1``/``l2``), η and the temperature t of Eq. (5).

    The defaults are neutral starting points (5-way episodes as in MAML's few-shot
    setting), not the paper's values, which are in a supplement we do not have: a
    method plugin sets each one per dataset with its source. Eq. (6) is a sum over
    points and entries, so its gradients grow with the episode's size: on 25 images of
    32×32 the gradient of the decoder's output bias is about 8,000 at initialisation,
    and an inner step of 1e-3 throws θ_i far off (the meta-loss grows a thousandfold);
    ``inner_lr`` 1e-5 keeps the inner step a small move.
    """

    n_classes: int = 5
    samples_per_class: int = 10
    train_per_class: int = 5
    tasks_per_step: int = 4
    outer_steps: int = 100
    outer_lr: float = 1e-3
    inner_steps: int = 1
    inner_lr: float = 1e-5
    first_order: bool = False
    lambda3: float = 1.0
    lambda4: float = 1.0
    regularizer: str = "l2"
    eta: float = 0.0
    temperature: float = 1.0
    coef_steps: int = 50
    coef_lr: float = 1e-2
    coef_init: float = 1e-4

    def check(self) -> None:
        """Raise ``ValueError`` naming the first impossible setting."""
        check_regularizer(self.regularizer)
        if self.n_classes < 2:
            raise ValueError(
                f"an episode is a clustering task: n_classes must be >= 2, got {self.n_classes}"
            )
        if not 1 <= self.train_per_class < self.samples_per_class:
            raise ValueError(
                f"train_per_class must leave at least one point per class to each split: "
                f"need 1 <= train_per_class < samples_per_class, got {self.train_per_class} "
                f"of {self.samples_per_class}"
            )
        counts = {
            "tasks_per_step": self.tasks_per_step,
            "outer_steps": self.outer_steps,
            "inner_steps": self.inner_steps,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.coef_steps < 0:
            raise ValueError(f"coef_steps must be >= 0, got {self.coef_steps}")
        weights = {"lambda3": self.lambda3, "lambda4": self.lambda4, "eta": self.eta}
        for name, value in weights.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.eta > 0 and not self.temperature > 0:
            raise ValueError(f"the temperature t of Eq. (5) must be > 0, got {self.temperature}")


@dataclass(frozen=True)
class Episode:
    """Indices into the meta data of an episode's two splits (M_tr, M_te), class by class."""

    train: np.ndarray
    test: np.ndarray


def sample_episode(
    labels: np.ndarray,
    settings: MetaLearningSettings,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
) -> Episode:
    """Draw N classes with at least m points (within one group, when ``groups`` is given),
    then m points of each; ``train_per_class`` of them go to M_tr, the rest to M_te."""
    labels = np.asarray(labels)
    group_ids = np.zeros(len(labels), dtype=np.int64) if groups is None else np.asarray(groups)
    m = settings.samples_per_class
    eligible: dict[int, list[np.ndarray]] = {}
    for group in np.unique(group_ids):
        members = np.flatnonzero(group_ids == group)
        classes, counts = np.unique(labels[members], return_counts=True)
        pools = [members[labels[members] == c] for c in classes[counts >= m]]
        if len(pools) >= settings.n_classes:
            eligible[int(group)] = pools
    if not eligible:
        classes, counts = np.unique(labels, return_counts=True)
        where = " within one teacher's half of the meta data" if groups is not None else ""
        raise ValueError(
            f"an episode needs {settings.n_classes} classes with at least {m} points each"
            f"{where}; the meta data has {len(classes)} classes of {counts.min()} to "
            f"{counts.max()} points ({int((counts >= m).sum())} with >= {m} in all). Lower "
            f"n_classes or samples_per_class, or use more meta data."
        )
    group = list(eligible)[int(rng.integers(len(eligible)))]
    pools = eligible[group]
    chosen = rng.choice(len(pools), size=settings.n_classes, replace=False)
    train, test = [], []
    for c in chosen:
        points = rng.choice(pools[c], size=m, replace=False)
        train.append(points[: settings.train_per_class])
        test.append(points[settings.train_per_class :])
    return Episode(np.concatenate(train), np.concatenate(test))


class EpisodeNetwork(nn.Module):
    """The base learner's forward pass, so that ``functional_call`` can swap its weights:
    codes Z, self-expressed codes (rows of Cᵀ Z, the paper's ZC) and the reconstruction.
    Given ``codes``, the encoder is skipped (C̃ is fitted with the network fixed)."""

    def __init__(self, autoencoder: nn.Module) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(
        self, x: torch.Tensor, coef: torch.Tensor, codes: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if codes is None:
            codes = self.autoencoder.encode(x)
        expressed = coef.T @ codes
        return codes, expressed, self.autoencoder.decode(expressed)


def _regularizer(coef: torch.Tensor, kind: str) -> torch.Tensor:
    return coef.abs().sum() if kind == "l1" else coef.pow(2).sum()


def episode_loss(
    network: EpisodeNetwork,
    params: Parameters,
    x: torch.Tensor,
    coef: torch.Tensor,
    affinity: torch.Tensor | None,
    settings: MetaLearningSettings,
    codes: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. (6) on one split: ``x`` its points, ``coef`` its C̃ (zero diagonal), ``affinity``
    its W (``None``: no distillation term), the network run with weights ``params``
    (from the given ``codes`` on, when they are given)."""
    codes, expressed, reconstruction = functional_call(network, params, (x, coef), {"codes": codes})
    loss = 0.5 * (reconstruction - x).pow(2).sum()
    loss = loss + settings.lambda3 / 2 * (codes - expressed).pow(2).sum()
    loss = loss + settings.lambda4 * _regularizer(coef, settings.regularizer)
    if settings.eta > 0 and affinity is not None:
        loss = loss + settings.eta * distillation_loss(codes, affinity)
    return loss


def fit_coefficients(
    network: EpisodeNetwork,
    params: Parameters,
    x: torch.Tensor,
    settings: MetaLearningSettings,
) -> torch.Tensor:
    """C̃ of one split for the network with weights ``params`` (held fixed): ``coef_steps``
    Adam steps on Eq. (6) over C̃ alone; returned detached, with a zero diagonal."""
    n = x.shape[0]
    off_diagonal = 1.0 - torch.eye(n, device=x.device)
    free = torch.full((n, n), settings.coef_init, device=x.device, requires_grad=True)
    fixed = {name: value.detach() for name, value in params.items()}
    with torch.no_grad():
        codes = functional_call(network, fixed, (x, free))[0]
    optimizer = torch.optim.Adam([free], lr=settings.coef_lr)
    for _ in range(settings.coef_steps):
        loss = episode_loss(network, fixed, x, free * off_diagonal, None, settings, codes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (free * off_diagonal).detach()


def adapted_loss(
    network: EpisodeNetwork,
    params: Parameters,
    data: torch.Tensor,
    features: torch.Tensor | None,
    episode: Episode,
    settings: MetaLearningSettings,
) -> torch.Tensor:
    """L_e(θ_i; M_te) after the inner update(s) θ → θ_i on M_tr (Algorithm 1, both loops).

    Differentiable with respect to ``params`` through the inner steps when
    ``settings.first_order`` is false; with it, the inner gradients are constants
    (first-order MAML).
    """

    def split(indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        index = torch.from_numpy(indices).to(data.device)
        if settings.eta > 0 and features is not None:
            return data[index], teacher_affinity(features[index], settings.temperature)
        return data[index], None

    x_train, w_train = split(episode.train)
    adapted = dict(params)
    for _ in range(settings.inner_steps):
        coef = fit_coefficients(network, adapted, x_train, settings)
        loss = episode_loss(network, adapted, x_train, coef, w_train, settings)
        grads = torch.autograd.grad(
            loss, list(adapted.values()), create_graph=not settings.first_order
        )
        adapted = {  # first order: the grads carry no graph, so ∂θ_i/∂θ = I
            name: value - settings.inner_lr * grad
            for (name, value), grad in zip(adapted.items(), grads, strict=True)
        }
    x_test, w_test = split(episode.test)
    coef = fit_coefficients(network, adapted, x_test, settings)
    return episode_loss(network, adapted, x_test, coef, w_test, settings)


def meta_loss(
    network: EpisodeNetwork,
    data: torch.Tensor,
    features: torch.Tensor | None,
    episodes: Sequence[Episode],
    settings: MetaLearningSettings,
) -> torch.Tensor:
    """Σ over ``episodes`` of L_e(θ_i; M_te), at the network's current weights θ."""
    params = dict(network.named_parameters())
    return sum(
        (adapted_loss(network, params, data, features, e, settings) for e in episodes),
        start=torch.zeros((), device=data.device),
    )


def meta_step(
    network: EpisodeNetwork,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    features: torch.Tensor | None,
    episodes: Sequence[Episode],
    settings: MetaLearningSettings,
) -> float:
    """One outer update of the meta-learner θ on ``episodes``; returns the meta-loss before it."""
    loss = meta_loss(network, data, features, episodes, settings)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@dataclass
class MetaLearningResult:
    """The meta-learner θ (the auto-encoder's ``state_dict``, on the CPU) and the meta-loss
    Σ_i L_e(θ_i; M_te) of each outer step (before its update)."""

    state_dict: dict[str, torch.Tensor]
    history: list[float]


def meta_learn(
    X: np.ndarray,
    y: np.ndarray,
    settings: MetaLearningSettings,
    *,
    conv_channels: Sequence[int],
    kernel_size: int,
    dense_hidden: Sequence[int],
    output_activation: str,
    seed: int,
    teacher_features: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    initial_state: dict[str, torch.Tensor] | None = None,
    device: str = "auto",
    checkpoint: Checkpoint | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> MetaLearningResult:
    """Algorithm 1 on meta data ``X`` (images (n̂, C, H, W) or vectors (n̂, D)), labels ``y``.

    The auto-encoder is the target's (same ``conv_channels``, ``kernel_size``,
    ``dense_hidden``, ``output_activation``), initialised from ``seed`` or from
    ``initial_state``. ``teacher_features`` (n̂ × p, row i for point i) are needed when
    η > 0; ``groups`` (see the module) keeps each episode within one teacher's half.
    Episodes are drawn by ``numpy.random.default_rng(seed)``. With a ``checkpoint``, the
    state (stage ``"meta-learning"``, plus ``checkpoint_extra``) is saved every
    ``checkpoint.every`` outer steps; ``resume`` is such a saved state.
    ``progress(step, meta_loss)`` is called after every outer step.
    """
    settings.check()
    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim not in (2, 4) or len(X) != len(y):
        raise ValueError(
            f"meta data must be vectors (n, D) or images (n, C, H, W) with one label each; "
            f"got X of shape {X.shape} and {len(y)} labels"
        )
    if settings.eta > 0 and teacher_features is None:
        raise ValueError("η > 0 needs the teacher's features of the meta data (teacher_features)")
    for name, extra in (("teacher_features", teacher_features), ("groups", groups)):
        if extra is not None and len(extra) != len(y):
            raise ValueError(f"{name} has {len(extra)} rows for {len(y)} meta points")
    rng = np.random.default_rng(seed)
    sample_episode(y, settings, rng, groups)  # fail early on impossible episodes
    rng = np.random.default_rng(seed)
    torch_device = resolve_device(device)
    autoencoder = build_autoencoder(
        X.shape[1:], conv_channels, kernel_size, dense_hidden, output_activation, seed
    )
    if initial_state is not None:
        autoencoder.load_state_dict(initial_state)
    network = EpisodeNetwork(autoencoder).to(torch_device)
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.outer_lr)
    history: list[float] = []
    if resume is not None:
        network.load_state_dict(resume["network"])
        optimizer.load_state_dict(resume["optimizer"])
        rng.bit_generator.state = resume["episode_rng"]
        history = list(resume["history"])
    data = torch.from_numpy(X).to(torch_device)
    features = (
        None
        if teacher_features is None or settings.eta == 0
        else torch.as_tensor(np.asarray(teacher_features), dtype=torch.float32).to(torch_device)
    )
    started, first = time.perf_counter(), len(history)
    for step in range(first, settings.outer_steps):
        episodes = [
            sample_episode(y, settings, rng, groups) for _ in range(settings.tasks_per_step)
        ]
        history.append(meta_step(network, optimizer, data, features, episodes, settings))
        if progress is not None:
            progress(step + 1, history[-1])
        _log_step(step + 1, settings.outer_steps, history[-1], started, first)
        if checkpoint is not None and checkpoint.due(step + 1):
            checkpoint.save(
                {
                    **(checkpoint_extra or {}),
                    "stage": "meta-learning",
                    "epoch": step + 1,
                    "network": network.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "episode_rng": rng.bit_generator.state,
                    "history": history,
                }
            )
    state = {name: t.detach().cpu() for name, t in autoencoder.state_dict().items()}
    return MetaLearningResult(state, history)


def _log_step(step: int, total: int, value: float, started: float, first: int) -> None:
    if step % max(1, total // 10) and step != total:
        return
    left = (time.perf_counter() - started) / (step - first) * (total - step)
    log.info(
        "meta-learning step %d/%d: Σ L_e(θ_i; M_te) = %.6g, %.0f s left", step, total, value, left
    )
