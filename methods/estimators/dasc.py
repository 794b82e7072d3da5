"""The estimator of ``dasc`` (``methods/dasc.py``): Deep Adversarial Subspace Clustering.

P. Zhou, Y. Hou & J. Feng, "Deep Adversarial Subspace Clustering", CVPR 2018. DASC is
DSC-Net (the generator: encoder, self-expression layer, decoder, and clusters read off C)
plus a discriminator that judges the clusters: for every estimated cluster it keeps a
linear subspace basis U_k and scores a latent point z by its projection residual
ℓ_k(z) = ‖z − U_k U_kᵀ z‖². Points re-sampled from an estimated cluster (random
combinations of its latent codes) keep that cluster's subspace structure only if the
cluster is right; the discriminator learns to tell the re-sampled ("fake") points from the
cluster's own ("real") codes, and the generator learns codes whose re-sampled points look
real, i.e. clusters that are subspaces.

The paper's full text could not be retrieved here, so no equation number is cited; the
implementation follows the abstract's design and public research code that is very likely
the second author's (github.com/hyqneuron/dsc_gan, "Deep Subspace Clustering + GAN",
``t28825.py`` and ``dsc_gan5.py``, TensorFlow; read, not copied), named "reference code"
below. Per fine-tuning epoch t (LRSC notation for the
DSC part, as in :mod:`benchmark.deep.estimator`):

* Generator loss: ½‖X − X̂‖² + λ1/2 ‖Z − ZC‖² + λ2 R(C) + w_adv · L_adv, with L_adv = 0 for
  the first ``adversarial_start`` epochs (the plain DSC phase).
* Clusters: spectral clustering of C after DSC-Net's post-processing (``train_*``
  settings), every ``cluster_every`` adversarial epochs; a clustering with an empty
  cluster is discarded and the previous labels kept (reference code).
* Sampling: codes are scaled to unit length (reference code). For cluster k with n_k
  codes, n_k fakes z̃ = Σ_j a_j z_j, a ~ U[0, 1]^{n_k} normalised to sum 1 (random convex
  combinations, reference code). Real points: the ``max(⌈ρ n_k⌉, ⌈s_r τ^t⌉)`` codes of
  the cluster with the smallest residual; fakes used: the ``max(⌈ρ n_k⌉, ⌈s_f τ^t⌉)``
  with the largest residual (reference code's curriculum; ρ ``sample_floor``, s_r
  ``real_start``, s_f ``fake_start``, τ ``sample_growth``, t = adversarial epochs so far).
* Discriminator: bases U_k ∈ R^{d×r} (columns scaled to unit length when scoring), loss
  (1/K) Σ_k [mean ℓ_k(real) + mean max(0, ε − ℓ_k(fake))]
  + β_c (1/K) Σ_k Σ_{j≠k} ‖U_kᵀ U_j‖²_F + β_o (1/K) Σ_k ‖U_kᵀ U_k − I‖²_F
  (hinge with margin ε, as the reference code); Adam with β1 = 0; ``discriminator_steps``
  steps per generator step, ``discriminator_warmup_steps`` on the first adversarial epoch
  after the bases are initialised from the clusters.
* Generator's adversarial loss: L_adv = (1/K) Σ_k mean ℓ_k(fake) over the fakes above,
  with the discriminator fixed; its gradient reaches the encoder through Z.

Choices where the available material is silent or ambiguous (each is also the source of
its setting in :data:`METHOD`):

* L_adv is the energy of the fakes (the generator loss of an energy-based GAN, which the
  hinge discriminator is). The reference code instead adds the negated discriminator data
  term, which also pushes the *real* residuals up; that part is not used.
* Clusters are matched to bases one-to-one (Hungarian assignment on the mean residual of
  the cluster's codes); the reference code lets each cluster take its best basis, so two
  clusters may share one.
* A basis starts as the top-r left singular vectors of its cluster's codes (the reference
  code uses a QR decomposition, i.e. the span of the cluster's first r points in data
  order).
* The basis penalties act on the raw parameters, as in the reference code.
* One optimiser and learning rate for the whole fine-tuning (the core's); the reference
  code starts a new Adam at 2e-4 for the adversarial phase.
* The clusters used in training come from DSC-Net's post-processing whatever the readout
  variant, so both readouts share one training (reference code clusters this way).
* The result is C after the last epoch; the reference code logs the best epoch, which
  PROTOCOL.md does not allow.

Scale: every DSC term is a plain sum over samples and entries while L_adv is a mean
residual of unit-length codes, as in the reference code. At its weight w_adv = 1 the
adversarial gradient on the codes is about 1e-4 of the DSC gradient on BBC (measured), so
the default behaves almost like DSC-Net; w_adv is the weight to search (PROTOCOL.md,
"Sensitivity").

The discriminator (bases, its Adam state, the clusters, the random generator of the
fakes) is saved in the fine-tuning checkpoints, and a killed run resumes to the same C;
the memory guard counts the mixing weights of the fakes (at most n×n per pass).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from benchmark.deep import (
    Auxiliary,
    Batch,
    DeepSelfExpressiveClustering,
    LossTerm,
    TrainingContext,
    Weighted,
)
from benchmark.spectral import dsc_postprocess, spectral_clustering

FLOAT_BYTES = 4


# -- the discriminator's geometry -----------------------------------------------------


def unit_rows(codes: torch.Tensor) -> torch.Tensor:
    """Each row scaled to unit ℓ2 norm (zero rows stay zero)."""
    return codes / codes.norm(dim=1, keepdim=True).clamp_min(1e-12)


def unit_columns(bases: torch.Tensor) -> torch.Tensor:
    """Each basis vector (column of every U_k in a K×d×r stack) scaled to unit length."""
    return bases / bases.norm(dim=-2, keepdim=True).clamp_min(1e-12)


def projection_residuals(points: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """ℓ(z) = ‖z − U Uᵀ z‖² for every row z of ``points`` (m×d) and a basis U (d×r)."""
    projected = points.mm(basis).mm(basis.t())
    return ((points - projected) ** 2).sum(dim=1)


def residual_table(points: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
    """m×K residuals of every point under every basis of a K×d×r stack."""
    return torch.stack([projection_residuals(points, basis) for basis in bases], dim=1)


def basis_penalties(bases: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1/K) Σ_k Σ_{j≠k} ‖U_kᵀ U_j‖²_F and (1/K) Σ_k ‖U_kᵀ U_k − I‖²_F of a K×d×r stack."""
    k, _, r = bases.shape
    gram = torch.einsum("adr,bds->abrs", bases, bases)
    squared = (gram**2).sum(dim=(2, 3))
    cross = (squared.sum() - squared.diagonal().sum()) / k
    own = gram[torch.arange(k), torch.arange(k)]
    orthogonality = ((own - torch.eye(r, dtype=bases.dtype, device=bases.device)) ** 2).sum() / k
    return cross, orthogonality


def hinge_discriminator_loss(
    real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor], margin: float
) -> torch.Tensor:
    """(1/K) Σ_k [mean real_k + mean max(0, ε − fake_k)] over per-cluster residuals."""
    per_cluster = [
        r.mean() + torch.relu(margin - f).mean() for r, f in zip(real, fake, strict=True)
    ]
    return torch.stack(per_cluster).mean()


def fake_energy(fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """(1/K) Σ_k mean fake_k: the generator's adversarial loss."""
    return torch.stack([f.mean() for f in fake]).mean()


def convex_combinations(
    points: torch.Tensor, count: int, generator: torch.Generator
) -> torch.Tensor:
    """``count`` random convex combinations of the rows of ``points`` (U[0,1] weights, sum 1)."""
    weights = torch.rand((count, points.shape[0]), generator=generator, dtype=points.dtype)
    weights = weights.to(points.device)
    return (weights / weights.sum(dim=1, keepdim=True)).mm(points)


def curriculum_count(size: int, step: int, start: float, growth: float, floor: float) -> int:
    """``min(size, max(⌈floor·size⌉, ⌈start·growth^step⌉))``: how many points are used."""
    grown = start * math.exp(min(step * math.log(growth), 700.0))
    return max(1, min(size, max(math.ceil(floor * size), math.ceil(grown))))


def estimate_clusters(
    coef: np.ndarray,
    n_clusters: int,
    subspace_dim: int | str,
    alpha: float,
    keep_fraction: float | str,
    seed: int,
) -> np.ndarray:
    """Labels from C (papers' orientation): DSC-Net post-processing, then spectral clustering."""
    affinity = dsc_postprocess(coef, n_clusters, subspace_dim, alpha, keep_fraction)
    return spectral_clustering(affinity, n_clusters, random_state=seed)


def leading_subspace(points: torch.Tensor, rank: int) -> torch.Tensor:
    """d×r orthonormal basis of the top-r left singular vectors of ``pointsᵀ`` (zero-padded)."""
    left, _, _ = torch.linalg.svd(points.t(), full_matrices=False)
    basis = torch.zeros(points.shape[1], rank, dtype=points.dtype, device=points.device)
    kept = min(rank, left.shape[1])
    basis[:, :kept] = left[:, :kept]
    return basis


# -- the discriminator and the adversarial term ----------------------------------------


class SubspaceDiscriminator(Auxiliary):
    """K subspace bases that score latent points by projection residual, trained by hinge loss.

    Holds the current clusters (labels and their matching to bases) and the random
    generator of the fakes; the adversarial term reads both. ``update`` runs once per
    fine-tuning epoch on the detached batch; it does nothing in the plain DSC phase.
    """

    name = "discriminator"

    def __init__(
        self, context: TrainingContext, estimator: DeepAdversarialSubspaceClustering
    ) -> None:
        self.estimator = estimator
        self.n_clusters = context.n_clusters
        self.start = int(estimator.adversarial_start)
        rank = int(estimator.subspace_rank)
        if not 1 <= rank <= context.latent_dim:
            raise ValueError(
                f"subspace_rank must be in 1..{context.latent_dim} (the code dimension), got {rank}"
            )
        self.bases = torch.nn.Parameter(
            torch.zeros(context.n_clusters, context.latent_dim, rank, device=context.device)
        )
        self.optimizer = torch.optim.Adam(
            [self.bases], lr=float(estimator.discriminator_lr), betas=(0.0, 0.999)
        )
        self.seed = context.seed
        self.generator = torch.Generator().manual_seed(context.seed)
        self.labels: np.ndarray | None = None
        self.assignment = np.arange(context.n_clusters)

    def active(self, epoch: int) -> bool:
        """Whether ``epoch`` (0-based) belongs to the adversarial phase."""
        return epoch >= self.start

    def scoring_bases(self) -> torch.Tensor:
        """The bases as they score points (unit columns), K×d×r."""
        return unit_columns(self.bases)

    def clusters(self) -> list[np.ndarray]:
        """Indices of each current cluster's points, in the order of their matched bases."""
        if self.labels is None:
            raise RuntimeError("the discriminator has no clusters before the adversarial phase")
        return [np.flatnonzero(self.labels == k) for k in range(self.n_clusters)]

    def samples(
        self, codes: torch.Tensor, epoch: int, bases: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Residuals of the real and the fake points of every cluster under its matched basis.

        ``codes`` are unit rows (n×d); the fakes are drawn from the shared generator.
        """
        est = self.estimator
        step = epoch - self.start
        real, fake = [], []
        for k, members in enumerate(self.clusters()):
            basis = bases[self.assignment[k]]
            if members.size == 0:  # only possible if the very first clustering had one
                continue
            points = codes[torch.from_numpy(members).to(codes.device)]
            size = points.shape[0]
            n_real = curriculum_count(
                size, step, est.real_start, est.sample_growth, est.sample_floor
            )
            n_fake = curriculum_count(
                size, step, est.fake_start, est.sample_growth, est.sample_floor
            )
            real_residuals = projection_residuals(points, basis)
            fakes = convex_combinations(points, size, self.generator)
            fake_residuals = projection_residuals(fakes, basis)
            real.append(torch.topk(real_residuals, n_real, largest=False).values)
            fake.append(torch.topk(fake_residuals, n_fake, largest=True).values)
        return real, fake

    def update(self, batch: Batch) -> dict[str, float]:
        if not self.active(batch.epoch):
            return {}
        est = self.estimator
        step = batch.epoch - self.start
        codes = unit_rows(batch.codes)
        if self.labels is None or step % int(est.cluster_every) == 0:
            self._recluster(batch.coef)
        if step == 0:
            self._initialise_bases(codes)
            steps = int(est.discriminator_warmup_steps)
        else:
            steps = int(est.discriminator_steps)
        self._match(codes)
        loss_value = 0.0
        for _ in range(steps):
            real, fake = self.samples(codes, batch.epoch, self.scoring_bases())
            cross, orthogonality = basis_penalties(self.bases)
            loss = (
                hinge_discriminator_loss(real, fake, float(est.margin))
                + float(est.basis_cross_weight) * cross
                + float(est.basis_orthogonality_weight) * orthogonality
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_value = float(loss.detach())
        return {"discriminator": loss_value}

    def _recluster(self, coef: torch.Tensor | None) -> None:
        if coef is None:
            raise ValueError("the discriminator needs C to estimate the clusters")
        est = self.estimator
        labels = estimate_clusters(
            coef.detach().cpu().numpy(),
            self.n_clusters,
            est.train_subspace_dim,
            float(est.train_alpha),
            est.train_keep_fraction,
            self.seed,
        )
        if len(np.unique(labels)) == self.n_clusters or self.labels is None:
            self.labels = labels

    def _initialise_bases(self, codes: torch.Tensor) -> None:
        rank = self.bases.shape[2]
        with torch.no_grad():
            for k, members in enumerate(self.clusters()):
                if members.size:
                    points = codes[torch.from_numpy(members).to(codes.device)]
                    self.bases[k] = leading_subspace(points, rank)
        self.assignment = np.arange(self.n_clusters)

    def _match(self, codes: torch.Tensor) -> None:
        """One basis per cluster: Hungarian assignment on the clusters' mean residuals."""
        with torch.no_grad():
            table = residual_table(codes, self.scoring_bases()).cpu().numpy()
        cost = np.stack(
            [
                table[members].mean(axis=0) if members.size else np.zeros(self.n_clusters)
                for members in self.clusters()
            ]
        )
        _, self.assignment = linear_sum_assignment(cost)

    def state_dict(self) -> dict[str, Any]:
        return {
            "bases": self.bases.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "labels": None if self.labels is None else self.labels.copy(),
            "assignment": self.assignment.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.bases.copy_(state["bases"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.labels = None if state["labels"] is None else np.asarray(state["labels"]).copy()
        self.assignment = np.asarray(state["assignment"]).copy()

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        """Mixing weights of the largest possible cluster (n×n) and the n×K residual table."""
        k = self.n_clusters
        return FLOAT_BYTES * (n * n + 3 * n * latent_dim + n * k)


class AdversarialLoss(LossTerm):
    """L_adv = (1/K) Σ_k mean ℓ_k(fake): residual energy of the re-sampled codes.

    Zero in the plain DSC phase (a zero tensor); afterwards the discriminator's bases are
    fixed (detached) and the gradient reaches the encoder through the codes the fakes are
    made of. The objective after training (the core evaluates it at epoch −1) is taken as
    at the last epoch, with the last clusters and bases.
    """

    name = "adversarial"

    def __init__(self, discriminator: SubspaceDiscriminator, last_epoch: int) -> None:
        self.discriminator = discriminator
        self.last_epoch = last_epoch

    def value(self, batch: Batch) -> torch.Tensor:
        epoch = batch.epoch if batch.epoch >= 0 else self.last_epoch
        if not self.discriminator.active(epoch) or self.discriminator.labels is None:
            return torch.zeros((), device=batch.codes.device)
        bases = self.discriminator.scoring_bases().detach()
        _, fake = self.discriminator.samples(unit_rows(batch.codes), epoch, bases)
        return fake_energy(fake)

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        """The mixing weights of every cluster are kept for backward: at most n×n."""
        return FLOAT_BYTES * (n * n + 2 * n * latent_dim)


# -- the estimator ---------------------------------------------------------------------


class DeepAdversarialSubspaceClustering(DeepSelfExpressiveClustering):
    """DASC (Zhou, Hou & Feng, CVPR 2018): DSC-Net trained against a subspace discriminator.

    See the module docstring for the objective, the schedule and the choices made. The
    parameters beyond DSC-Net's: ``adversarial_weight`` (w_adv), ``adversarial_start``
    (fine-tuning epochs of plain DSC before the adversarial phase), ``subspace_rank`` (r),
    ``margin`` (ε), ``basis_cross_weight`` (β_c), ``basis_orthogonality_weight`` (β_o),
    ``discriminator_lr``, ``discriminator_steps``, ``discriminator_warmup_steps``,
    ``cluster_every``, the curriculum ``real_start``, ``fake_start``, ``sample_growth``,
    ``sample_floor``, and the post-processing used to estimate clusters in training
    (``train_subspace_dim``, ``train_alpha``, ``train_keep_fraction``).
    """

    def __init__(
        self,
        adversarial_weight: float = 1.0,
        adversarial_start: int = 50,
        subspace_rank: int = 10,
        margin: float = 0.1,
        basis_cross_weight: float = 0.01,
        basis_orthogonality_weight: float = 0.01,
        discriminator_lr: float = 2e-4,
        discriminator_steps: int = 5,
        discriminator_warmup_steps: int = 100,
        cluster_every: int = 1,
        real_start: float = 5.0,
        fake_start: float = 4.0,
        sample_growth: float = 1.01,
        sample_floor: float = 0.4,
        train_subspace_dim: int = 10,
        train_alpha: float = 3.5,
        train_keep_fraction: float | str = 1.0,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.adversarial_weight = adversarial_weight
        self.adversarial_start = adversarial_start
        self.subspace_rank = subspace_rank
        self.margin = margin
        self.basis_cross_weight = basis_cross_weight
        self.basis_orthogonality_weight = basis_orthogonality_weight
        self.discriminator_lr = discriminator_lr
        self.discriminator_steps = discriminator_steps
        self.discriminator_warmup_steps = discriminator_warmup_steps
        self.cluster_every = cluster_every
        self.real_start = real_start
        self.fake_start = fake_start
        self.sample_growth = sample_growth
        self.sample_floor = sample_floor
        self.train_subspace_dim = train_subspace_dim
        self.train_alpha = train_alpha
        self.train_keep_fraction = train_keep_fraction

    def _check_settings(self) -> None:
        if not self.adversarial_weight >= 0:
            raise ValueError(f"adversarial_weight must be >= 0, got {self.adversarial_weight}")
        if not 0 <= self.adversarial_start <= self.finetune_epochs:
            raise ValueError(
                f"adversarial_start must be in 0..finetune_epochs ({self.finetune_epochs}), "
                f"got {self.adversarial_start}"
            )
        for name in ("discriminator_steps", "discriminator_warmup_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.cluster_every < 1:
            raise ValueError(f"cluster_every must be >= 1, got {self.cluster_every}")
        if not 0 < self.sample_floor <= 1 or self.sample_growth < 1:
            raise ValueError(
                "need 0 < sample_floor <= 1 and sample_growth >= 1, got "
                f"{self.sample_floor}, {self.sample_growth}"
            )

    def _extra_objective(
        self, context: TrainingContext
    ) -> tuple[Sequence[Weighted], Sequence[Auxiliary]]:
        self._check_settings()
        if self.adversarial_weight == 0 or self.adversarial_start >= self.finetune_epochs:
            return (), ()
        discriminator = SubspaceDiscriminator(context, self)
        term = AdversarialLoss(discriminator, last_epoch=int(self.finetune_epochs) - 1)
        weighted = Weighted(term, float(self.adversarial_weight))
        return (weighted,), (discriminator,)
