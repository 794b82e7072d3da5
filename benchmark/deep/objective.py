"""The objective of the deep self-expressive methods as named, weighted loss terms.

Every method built on DSC-Net (DSCN-L1/L2, DPSC, DASC, LRSC-L1/L2) minimises a weighted
sum of terms over the auto-encoder's weights and the self-expression coefficients C:

    L = Σ_k w_k · term_k(batch) + λ2 R(C)

* :class:`Reconstruction` (½‖X − X̂‖²) and :class:`SelfExpression` (½‖Z − ZC‖², weighted
  by λ1) are DSC-Net's Eq. (1) (LRSC numbering); a method adds its own terms (DPSC's
  distribution consistency, DASC's adversarial loss, LRSC's distillation and contrast).
* The regulariser R(C) (‖C‖₁ or ‖C‖²_F, weight λ2) is the one term that is not an
  autograd expression: its gradient is folded into the coefficient optimiser
  (:mod:`benchmark.deep.coefficient_adam`) so that no n×n gradient is materialised.

A term sees a :class:`Batch` (data, codes Z, self-expressed codes ZC, reconstruction,
C, the batch's indices into the full data, the stage, the epoch and auxiliary inputs
such as a teacher's features), declares the stages it belongs to and the memory it
needs beyond the core's, and is never computed at weight 0. An :class:`Auxiliary` is a
network trained beside the main one with its own optimiser (DASC's discriminator); its
state goes into the checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from benchmark.deep.self_expression import check_regularizer

STAGES = ("pretrain", "finetune")
"""``pretrain``: mini-batches through the auto-encoder alone (no C); ``finetune``: the full
batch through the auto-encoder and the self-expression layer."""


@dataclass
class Batch:
    """What a loss term or an auxiliary network may look at in one optimisation step.

    ``indices`` are the positions of the batch's points in the full data (all of them
    while fine-tuning); ``auxiliary`` holds full-length side inputs (row i belongs to
    point i of the full data; index them with ``indices``). ``expressed`` (ZC, rows are
    points) and ``coef`` (C, read-only, paper's orientation) exist while fine-tuning only.
    """

    stage: str
    epoch: int
    data: torch.Tensor
    codes: torch.Tensor
    reconstruction: torch.Tensor
    indices: torch.Tensor
    expressed: torch.Tensor | None = None
    coef: torch.Tensor | None = None
    auxiliary: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def detached(self) -> Batch:
        """The same batch with every tensor cut from the autograd graph."""

        def cut(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.detach()

        return Batch(
            stage=self.stage,
            epoch=self.epoch,
            data=self.data,
            codes=self.codes.detach(),
            reconstruction=self.reconstruction.detach(),
            indices=self.indices,
            expressed=cut(self.expressed),
            coef=self.coef,
            auxiliary=self.auxiliary,
        )


class LossTerm:
    """A named piece of the objective; subclasses implement :meth:`value`.

    ``stages`` lists where the term applies (see :data:`STAGES`). :meth:`settings` is
    what, besides the name, determines the term's value (it enters cache keys).
    """

    name: str = ""
    stages: tuple[str, ...] = ("finetune",)

    def value(self, batch: Batch) -> torch.Tensor:
        """The term's (unweighted) scalar value on ``batch``, differentiable."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The term's own settings (for cache keys and records)."""
        return {}

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        """Bytes the term needs beyond the core's at n points with codes of ``latent_dim``."""
        return 0


class Reconstruction(LossTerm):
    """½‖X − X̂‖²_F summed over samples and entries (LRSC Eq. (1), first term)."""

    name = "reconstruction"
    stages = ("pretrain", "finetune")

    def value(self, batch: Batch) -> torch.Tensor:
        return 0.5 * torch.sum((batch.reconstruction - batch.data) ** 2)


class SelfExpression(LossTerm):
    """½‖Z − ZC‖²_F summed over samples and entries (LRSC Eq. (1), weighted by λ1)."""

    name = "self_expression"

    def value(self, batch: Batch) -> torch.Tensor:
        if batch.expressed is None:
            raise ValueError("the self-expression term needs the self-expressed codes ZC")
        return 0.5 * torch.sum((batch.codes - batch.expressed) ** 2)


class Auxiliary:
    """A network trained beside the main one, with its own optimiser (e.g. a discriminator).

    :meth:`update` runs once per step of the stages it lists, before the main network's
    loss is formed, on a detached batch; loss terms that use the auxiliary network hold a
    reference to it. Its state (weights, optimiser, random generators) goes into the
    checkpoints through :meth:`state_dict` / :meth:`load_state_dict`.
    """

    name: str = ""
    stages: tuple[str, ...] = ("finetune",)

    def update(self, batch: Batch) -> dict[str, float]:
        """Train the auxiliary network on ``batch``; returns its losses (for logs)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training bit-for-bit."""
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The auxiliary network's settings (for cache keys and records)."""
        return {}

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        """Bytes the auxiliary network needs at n points with codes of ``latent_dim``."""
        return 0


@dataclass(frozen=True)
class Weighted:
    """A loss term and its weight."""

    term: LossTerm
    weight: float

    def __post_init__(self) -> None:
        if not self.term.name:
            raise ValueError(f"{type(self.term).__name__} has no name")
        if not self.weight >= 0:
            raise ValueError(f"the weight of {self.term.name!r} must be >= 0, got {self.weight}")


class Objective:
    """Weighted loss terms plus the weighted regulariser of C.

    Terms are summed in the order given; a term of weight 0 is never computed.
    """

    def __init__(
        self,
        terms: Sequence[Weighted],
        regularizer: str,
        regularizer_weight: float,
        auxiliaries: Sequence[Auxiliary] = (),
    ) -> None:
        names = [weighted.term.name for weighted in terms] + [aux.name for aux in auxiliaries]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"loss terms and auxiliary networks need unique names: {duplicates}")
        if not regularizer_weight >= 0:
            raise ValueError(f"λ2 must be >= 0, got {regularizer_weight}")
        for weighted in terms:
            unknown = set(weighted.term.stages) - set(STAGES)
            if unknown:
                raise ValueError(f"term {weighted.term.name!r}: unknown stages {sorted(unknown)}")
        self.terms = list(terms)
        self.regularizer = check_regularizer(regularizer)
        self.regularizer_weight = float(regularizer_weight)
        self.auxiliaries = list(auxiliaries)

    def active(self, stage: str) -> list[Weighted]:
        """The terms of ``stage`` with a non-zero weight."""
        return [w for w in self.terms if w.weight != 0 and stage in w.term.stages]

    def active_auxiliaries(self, stage: str) -> list[Auxiliary]:
        """The auxiliary networks trained in ``stage``."""
        return [aux for aux in self.auxiliaries if stage in aux.stages]

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Σ w_k · term_k(batch) over the active terms, and each term's unweighted value."""
        total: torch.Tensor | None = None
        values: dict[str, float] = {}
        for weighted in self.active(batch.stage):
            value = weighted.term.value(batch)
            values[weighted.term.name] = float(value.detach())
            contribution = value if weighted.weight == 1 else weighted.weight * value
            total = contribution if total is None else total + contribution
        if total is None:
            raise ValueError(f"no active loss term in stage {batch.stage!r}")
        return total, values

    def describe(self, stage: str) -> list[dict[str, Any]]:
        """Name, weight and settings of each active term and auxiliary network of ``stage``."""
        described: list[dict[str, Any]] = [
            {"term": w.term.name, "weight": w.weight, **w.term.settings()}
            for w in self.active(stage)
        ]
        if stage == "finetune":
            described.append(
                {"term": f"regularizer_{self.regularizer}", "weight": self.regularizer_weight}
            )
        described += [
            {"auxiliary": aux.name, **aux.settings()} for aux in self.active_auxiliaries(stage)
        ]
        return described

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        """Extra bytes of the active terms and auxiliary networks at n points."""
        parts: Iterable[LossTerm | Auxiliary] = [
            *(w.term for w in self.terms if w.weight != 0),
            *self.auxiliaries,
        ]
        return sum(part.memory_bytes(n, latent_dim) for part in parts)
