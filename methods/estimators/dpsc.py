"""The estimator of ``dpsc``: Latent Distribution Preserving Deep Subspace Clustering.

L. Zhou, X. Bai, D. Wang, X. Liu, J. Zhou & E. Hancock, IJCAI 2019. No public code.
DSC-Net (LRSC Eq. (1), the engine's :class:`benchmark.deep.DeepSelfExpressiveClustering`)
plus the paper's *distribution consistency loss*: a KL divergence between the
distribution of pairwise similarities of the inputs and that of the latent codes, so
that the encoder keeps the data's neighbourhoods while the self-expression layer learns C.

What could be read of the paper here is its abstract and its Fig. 1 caption (the term
is the KL divergence between the density of the latent representations and that of the
original inputs); its method section, equation numbers and settings could not, so the
numbering (D1)-(D5) below is ours and every choice the paper would fix is stated as
ours. Samples are rows; X is the network's input (images
flattened), Z = Φe(X) the encoder's codes (n × d):

(D1) objective: ½‖X − X̂‖² + λ1/2 ‖Z − ZC‖² + λ2 R(C) + λ3 · n · KL(P‖Q), diag(C) = 0.
(D2) input similarities, t-SNE's (van der Maaten & Hinton, JMLR 2008): Gaussian
     conditionals p_{j|i} ∝ exp(−β_i ‖x_i − x_j‖²), p_{i|i} = 0, with β_i set by
     bisection so that the perplexity 2^H(p_{·|i}) equals ``perplexity``.
(D3) joint, symmetric: p_ij = (p_{j|i} + p_{i|j}) / 2n, so Σ_ij p_ij = 1. P is fixed,
     computed once from X at the start of fine-tuning.
(D4) latent similarities, Student's t kernel with one degree of freedom and unit scale
     (t-SNE's, as in parametric t-SNE, van der Maaten, AISTATS 2009):
     q_ij = (1 + ‖z_i − z_j‖²)^(−1) / Σ_{k≠l} (1 + ‖z_k − z_l‖²)^(−1), q_ii = 0.
(D5) KL(P‖Q) = Σ_{i≠j} p_ij log(p_ij / q_ij): P (input) is the target, Q (latent) moves.

Choices the paper leaves open here, and ours:

* kernel and bandwidth: Gaussian with per-point perplexity-calibrated bandwidth for the
  input, unit-scale Student-t for the codes (t-SNE's pair); a single global bandwidth
  (e.g. the mean squared distance) gave an almost uniform P on Fashion-MNIST and BBC
  (entropy 99.8% of the maximum), i.e. a term with nothing to preserve.
* normalisation: joint over all ordered pairs, symmetric (D3, D4).
* direction: KL(P‖Q), input → latent.
* latent: the encoder output Z, not ZC.
* scale: the term is n · KL, the KL summed over points (Σ_j p_ij ≈ 1/n per point), like
  the core's terms that are sums over samples, so λ3 means the same at every n.
* stage: fine-tuning only; pretraining is DSC-Net's (reconstruction alone), so DPSC and
  DSCN start from the same cached auto-encoder and differ only by the term.
* weight λ3 (``distribution_weight``), ``perplexity`` and the DSC-Net settings: see the
  per-dataset sources in :data:`METHOD`.

The term never forms an n×n×D tensor: squared distances come from the Gram expansion
‖a‖² + ‖b‖² − 2a·b, one block of rows at a time; the only n×n array it keeps is P
(float32), and its gradient (t-SNE's, ∂/∂z_i = 4 Σ_j (p_ij − q_ij) w_ij (z_i − z_j)
with w_ij = (1 + ‖z_i − z_j‖²)^(−1)) is formed block by block in a custom autograd
function.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from benchmark.deep import (
    Batch,
    DeepSelfExpressiveClustering,
    LossTerm,
    TrainingContext,
    Weighted,
)
from benchmark.deep.memory import block_rows
from benchmark.registry import load_module

# The term's memory, declared in methods/dpsc.py with the method's memory estimate.
distribution_term_bytes = load_module(
    Path(__file__).resolve().parents[1] / "dpsc.py"
).distribution_term_bytes

BISECTION_STEPS = 64
"""Halvings of the bracket of each β_i (t-SNE uses 50 with a tolerance)."""


def squared_distances(rows: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """‖r_i − p_j‖² (len(rows) × len(points)) by the Gram expansion, clamped at 0."""
    gram = rows @ points.t()
    rows_sq = (rows * rows).sum(1, keepdim=True)
    points_sq = (points * points).sum(1)
    return (rows_sq + points_sq - 2.0 * gram).clamp_(min=0.0)


def _calibrated_conditionals(distances: torch.Tensor, perplexity: float) -> torch.Tensor:
    """Rows p_{·|i} ∝ exp(−β_i d_ij) with 2^H = perplexity; ``inf`` marks j = i (float64)."""
    target = math.log(perplexity)
    shifted = distances - distances.min(1, keepdim=True).values  # same p, finite exp
    finite = torch.isfinite(shifted)
    scale = torch.where(finite, shifted, 0.0).sum(1, keepdim=True) / finite.sum(1, keepdim=True)
    beta = 1.0 / scale.clamp(min=1e-12)
    low = torch.zeros_like(beta)
    high = torch.full_like(beta, math.inf)
    for _ in range(BISECTION_STEPS):
        weights = torch.exp(-beta * shifted)
        probabilities = weights / weights.sum(1, keepdim=True)
        entropy = -torch.special.xlogy(probabilities, probabilities).sum(1, keepdim=True)
        too_flat = entropy > target
        low = torch.where(too_flat, beta, low)
        high = torch.where(too_flat, high, beta)
        beta = torch.where(torch.isinf(high), 2.0 * beta, 0.5 * (low + high))
    weights = torch.exp(-beta * shifted)
    return weights / weights.sum(1, keepdim=True)


def input_similarities(
    data: torch.Tensor, perplexity: float, block: int | None = None
) -> torch.Tensor:
    """P of (D2)-(D3): n×n, symmetric, zero diagonal, summing to 1, in ``data``'s dtype."""
    points = data.reshape(data.shape[0], -1)
    n = points.shape[0]
    check_perplexity(perplexity, n)
    step = block or block_rows(n)
    joint = torch.empty(n, n, dtype=points.dtype, device=points.device)
    for start in range(0, n, step):
        stop = min(n, start + step)
        distances = squared_distances(points[start:stop], points).double()
        rows = torch.arange(stop - start, device=points.device)
        distances[rows, rows + start] = math.inf
        joint[start:stop] = _calibrated_conditionals(distances, perplexity).to(points.dtype)
    for first in range(0, n, step):
        for second in range(first, n, step):
            upper = joint[first : first + step, second : second + step]
            lower = joint[second : second + step, first : first + step]
            symmetric = (upper + lower.t()) / (2 * n)
            upper.copy_(symmetric)
            lower.copy_(symmetric.t())
    return joint


def _neg_entropy(joint: torch.Tensor, step: int) -> float:
    """Σ p log p in float64, one block of rows at a time."""
    total = 0.0
    for start in range(0, joint.shape[0], step):
        rows = joint[start : start + step].double()
        total += float(torch.special.xlogy(rows, rows).sum())
    return total


def _student_t_rows(codes: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, ...]:
    """Squared distances and (1 + d)^(−1) of rows start:stop to all codes, diagonal 0."""
    distances = squared_distances(codes[start:stop], codes)
    kernel = 1.0 / (1.0 + distances)
    rows = torch.arange(stop - start, device=codes.device)
    kernel[rows, rows + start] = 0.0
    return distances, kernel


class _LatentKL(torch.autograd.Function):
    """KL(P‖Q) of (D4)-(D5) with its t-SNE gradient, both built block by block."""

    @staticmethod
    def forward(
        ctx: Any, codes: torch.Tensor, joint: torch.Tensor, neg_entropy: float, step: int
    ) -> torch.Tensor:
        n = codes.shape[0]
        mass = torch.zeros((), dtype=torch.float64, device=codes.device)
        cross = torch.zeros((), dtype=torch.float64, device=codes.device)
        for start in range(0, n, step):
            stop = min(n, start + step)
            distances, kernel = _student_t_rows(codes, start, stop)
            mass += kernel.sum(dtype=torch.float64)
            cross += (joint[start:stop] * torch.log1p(distances)).sum(dtype=torch.float64)
        ctx.save_for_backward(codes, joint)
        ctx.mass, ctx.step = float(mass), step
        # −Σ p log q = Σ p log(1 + d) + log Σ (1 + d)^(−1), because Σ p = 1
        return (neg_entropy + cross + torch.log(mass)).to(codes.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        codes, joint = ctx.saved_tensors
        n = codes.shape[0]
        grad = torch.empty_like(codes)
        for start in range(0, n, ctx.step):
            stop = min(n, start + ctx.step)
            _, kernel = _student_t_rows(codes, start, stop)
            weights = (joint[start:stop] - kernel / ctx.mass).mul_(kernel)
            grad[start:stop] = 4.0 * (
                weights.sum(1, keepdim=True) * codes[start:stop] - weights @ codes
            )
        return grad_output * grad, None, None, None


def check_perplexity(perplexity: float, n: int) -> None:
    """Raise if t-SNE's perplexity cannot be met by n points."""
    if not 1.0 < perplexity < n - 1:
        raise ValueError(
            f"dpsc: perplexity must lie between 1 and n - 1 = {n - 1} (the number of "
            f"neighbours each point can have), got {perplexity}; use a value like 30 "
            f"(t-SNE's usual 5-50), smaller than the number of points"
        )


class DistributionConsistency(LossTerm):
    """n · KL(P‖Q) of (D1)-(D5): input pairwise similarities P, latent ones Q.

    P is computed from the full data on the first fine-tuning call and kept (one n×n
    float32 matrix); ``block`` is the number of rows processed at a time.
    """

    name = "distribution_consistency"
    stages = ("finetune",)

    def __init__(self, perplexity: float, block: int | None = None) -> None:
        self.perplexity = float(perplexity)
        self.block = block
        self.joint: torch.Tensor | None = None
        self.neg_entropy = 0.0

    def value(self, batch: Batch) -> torch.Tensor:
        n = batch.codes.shape[0]
        if batch.data.shape[0] != n or batch.indices.numel() != n:
            raise ValueError("the distribution consistency term needs the full batch")
        step = self.block or block_rows(n)
        if self.joint is None or self.joint.shape[0] != n:
            with torch.no_grad():
                self.joint = input_similarities(batch.data, self.perplexity, step)
            self.neg_entropy = _neg_entropy(self.joint, step)
        codes = batch.codes.reshape(n, -1)
        return n * _LatentKL.apply(codes, self.joint, self.neg_entropy, step)

    def settings(self) -> dict[str, Any]:
        return {
            "input": "t-SNE Gaussian, perplexity-calibrated, joint symmetric",
            "latent": "Student-t, 1 dof, unit scale, encoder codes Z",
            "divergence": "n * KL(P || Q)",
            "perplexity": self.perplexity,
        }

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        return distribution_term_bytes(n)


class DistributionPreservingClustering(DeepSelfExpressiveClustering):
    """DPSC (Zhou et al., IJCAI 2019): DSC-Net + λ3 · n · KL(P‖Q); see the module docstring.

    ``distribution_weight`` is λ3 of (D1) (0: the term is never computed and the fit is
    DSC-Net's), ``perplexity`` that of (D2). Every other parameter is DSC-Net's.
    """

    def __init__(
        self, distribution_weight: float = 1.0, perplexity: float = 30.0, **base: Any
    ) -> None:
        super().__init__(**base)
        self.distribution_weight = distribution_weight
        self.perplexity = perplexity

    def _extra_objective(self, context: TrainingContext):
        if not self.distribution_weight >= 0:
            raise ValueError(
                f"dpsc: distribution_weight (λ3) must be >= 0, got {self.distribution_weight}; "
                f"0 turns the distribution consistency term off (plain DSC-Net)"
            )
        if self.distribution_weight == 0:
            return (), ()
        check_perplexity(float(self.perplexity), context.n)
        term = DistributionConsistency(self.perplexity)
        return [Weighted(term, float(self.distribution_weight))], ()
