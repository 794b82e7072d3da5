"""LRSC's model-level and self-supervised terms (Li et al., AAAI 2021), as pure tensor functions.

* :func:`teacher_affinity`: the teacher's affinity, Eq. (5),
  ``W_ij = exp(−‖T_i − T_j‖² / t)`` with ``W_ii = 0``, from teacher features T (n × p,
  one row per point), through ``‖a‖² + ‖b‖² − 2a·b`` (no n × n × p tensor).
* :func:`distillation_loss`: the distillation term of Eq. (4), the η term of Eq. (6) and
  the μ term of Eq. (7)/(9), ``½ Σ_{i≠j} W_ij ‖Z_i − Z_j‖²``, computed as the
  graph-Laplacian quadratic form ``tr(Zᵀ L Z)`` with ``L = D − W``, ``D = diag(W 1)``
  (equal because W is symmetric with a zero diagonal). Its gradient is ``2 L Z``;
  memory is one n × d product besides W. For a mini-batch (Algorithm 2, pretraining
  steps S2-S3: "select a subset T_k from T based on D_k") W is restricted to the
  batch's rows and columns.
* :func:`contrastive_loss`: the self-supervised term of Eq. (8), InfoNCE between the
  L2-normalised codes Z_i and self-expressed codes G_i = (ZC)_i with temperature σ, an
  n-way softmax whose positives are on the diagonal of the n × n cosine logits.

The weights η, μ and γ multiply these values as Eq. (6), (7) and (9) write them:
``η/2 Σ_{i≠j} …`` is ``η · distillation_loss``. Codes are rows here (the paper's
columns); nothing below depends on how C is oriented, the self-expressed codes are
passed in.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch.nn import functional


def _check_features(features: torch.Tensor, name: str) -> None:
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(
            f"{name} must be a 2-D tensor with one row per point and at least 2 points, "
            f"got shape {tuple(features.shape)}"
        )


def mean_squared_distance(features: torch.Tensor) -> float:
    """Mean of ``‖T_i − T_j‖²`` over the pairs i ≠ j, in O(n·p): ``2 Σ‖T_i − T̄‖² / (n − 1)``.

    The scale of the teacher's features is arbitrary, so Eq. (5)'s t is best set
    relative to it (``t = c · mean_squared_distance(T)``).
    """
    _check_features(features, "teacher features")
    centred = features.double() - features.double().mean(dim=0)
    return float(2.0 * centred.pow(2).sum() / (features.shape[0] - 1))


def teacher_affinity(features: torch.Tensor, temperature: float) -> torch.Tensor:
    """LRSC Eq. (5): ``W_ij = exp(−‖T_i − T_j‖² / t)``, ``W_ii = 0``; n × n, symmetric.

    ``features`` is T with one row per point (n × p); ``temperature`` is t > 0. Squared
    distances come from the Gram matrix (clamped at 0 against rounding), turned into W
    in place: memory is one n × n buffer, in the features' dtype. T is a constant (no
    gradient reaches the teacher), so it is computed without autograd.
    """
    _check_features(features, "teacher features")
    if not temperature > 0:
        raise ValueError(f"the temperature t of Eq. (5) must be > 0, got {temperature}")
    features = features.detach()
    squared_norms = features.pow(2).sum(dim=1)
    affinity = features @ features.T  # one n × n buffer, turned into W in place
    affinity.mul_(-2.0).add_(squared_norms[:, None]).add_(squared_norms[None, :])
    affinity.clamp_(min=0.0).div_(-temperature).exp_()
    return affinity.fill_diagonal_(0.0)


def distillation_loss(
    codes: torch.Tensor, affinity: torch.Tensor, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """LRSC Eq. (4): ``½ Σ_{i≠j} W_ij ‖Z_i − Z_j‖² = tr(Zᵀ (D − W) Z)``; differentiable in Z.

    ``codes`` Z (n × d, one row per point); ``affinity`` W from :func:`teacher_affinity`
    (symmetric, zero diagonal). With ``indices`` (a mini-batch), ``codes`` are the
    batch's codes and W is restricted to ``W[indices][:, indices]``.

    Computed as ``Σ_i D_ii ‖Z_i‖² − Σ_i Z_i·(W Z)_i`` on codes centred by their mean
    (the form is unchanged by a common shift, since ``L 1 = 0``), which keeps the
    difference of the two sums from cancelling away its precision.
    """
    if indices is not None:
        affinity = affinity[indices][:, indices]
    if codes.ndim != 2 or affinity.shape != (codes.shape[0], codes.shape[0]):
        raise ValueError(
            f"codes must be n × d and the affinity n × n; got {tuple(codes.shape)} and "
            f"{tuple(affinity.shape)}"
        )
    affinity = affinity.to(codes.dtype)
    centred = codes - codes.mean(dim=0, keepdim=True)
    degree = affinity.sum(dim=1)
    return (degree * centred.pow(2).sum(dim=1)).sum() - (centred * (affinity @ centred)).sum()


def contrastive_loss(
    codes: torch.Tensor,
    expressed: torch.Tensor,
    temperature: float,
    reduction: Literal["sum", "mean"] = "sum",
) -> torch.Tensor:
    """LRSC Eq. (8): ``−log exp(ẑ_i·ĝ_i/σ) / Σ_j exp(ẑ_i·ĝ_j/σ)``, summed (or averaged) over i.

    ``codes`` Z and ``expressed`` G = ZC are n × d, row i of G being point i's
    self-expressed code; ẑ_i and ĝ_j are their L2-normalised rows and σ the
    temperature. The logits are the n × n cosine similarities divided by σ; row i is an
    n-way softmax classifier whose class is i (one positive G_i, n − 1 negatives G_j,
    j ≠ i), i.e. the cross-entropy with targets ``0, 1, …, n − 1``.

    The paper writes the loss for one i and adds it to Eq. (9) without a sum over i.
    ``reduction="sum"`` (default) reads the free i as summed, like every other term of
    Eq. (9) (½‖X − X̂‖², ‖Z − ZC‖² are sums over points), so γ's weight against them
    does not change with n; ``"mean"`` is the usual InfoNCE average (Wu et al. 2018).
    Memory: a few n × n float tensors (the logits and their softmax in backward).
    """
    if codes.shape != expressed.shape or codes.ndim != 2:
        raise ValueError(
            f"codes and self-expressed codes must both be n × d; got {tuple(codes.shape)} "
            f"and {tuple(expressed.shape)}"
        )
    if not temperature > 0:
        raise ValueError(f"the temperature σ of Eq. (8) must be > 0, got {temperature}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    cosines = functional.normalize(codes, dim=1) @ functional.normalize(expressed, dim=1).T
    logits = cosines / temperature
    targets = torch.arange(codes.shape[0], device=codes.device)
    return functional.cross_entropy(logits, targets, reduction=reduction)
