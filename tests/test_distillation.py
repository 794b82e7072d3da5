"""LRSC's distillation (Eq. 4-5) and self-supervised contrast (Eq. 8) against direct sums."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional

from benchmark.deep.distillation import (
    contrastive_loss,
    distillation_loss,
    mean_squared_distance,
    teacher_affinity,
)


def random_rows(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_affinity_matches_eq5_on_hand_made_features():
    T = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    W = teacher_affinity(T, temperature=2.0)
    expected = torch.tensor(
        [
            [0.0, math.exp(-1 / 2), math.exp(-4 / 2)],
            [math.exp(-1 / 2), 0.0, math.exp(-5 / 2)],
            [math.exp(-4 / 2), math.exp(-5 / 2), 0.0],
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(W, expected)


def test_affinity_matches_the_pairwise_definition():
    T = random_rows(7, 5, seed=0)
    W = teacher_affinity(T, temperature=3.0)
    for i in range(7):
        for j in range(7):
            direct = 0.0 if i == j else math.exp(-float(((T[i] - T[j]) ** 2).sum()) / 3.0)
            assert float(W[i, j]) == pytest.approx(direct, rel=1e-10, abs=1e-12)


def test_mean_squared_distance_is_the_mean_over_pairs():
    T = random_rows(6, 4, seed=1)
    pairs = [float(((T[i] - T[j]) ** 2).sum()) for i in range(6) for j in range(6) if i != j]
    assert mean_squared_distance(T) == pytest.approx(sum(pairs) / len(pairs), rel=1e-12)


def double_sum(Z: torch.Tensor, W: torch.Tensor) -> float:
    n = Z.shape[0]
    return 0.5 * sum(
        float(W[i, j]) * float(((Z[i] - Z[j]) ** 2).sum())
        for i in range(n)
        for j in range(n)
        if i != j
    )


def test_laplacian_form_equals_the_double_sum_of_eq4():
    Z = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0], [-2.0, 1.0]], dtype=torch.float64)
    W = teacher_affinity(random_rows(4, 3, seed=2), temperature=4.0)
    assert float(distillation_loss(Z, W)) == pytest.approx(double_sum(Z, W), rel=1e-12)
    shifted = Z + 100.0  # a common shift leaves the form unchanged (L 1 = 0)
    assert float(distillation_loss(shifted, W)) == pytest.approx(double_sum(Z, W), rel=1e-9)


def test_mini_batch_restricts_w_to_the_batch():
    T, Z = random_rows(9, 3, seed=3), random_rows(9, 4, seed=4)
    W = teacher_affinity(T, temperature=5.0)
    batch = torch.tensor([7, 2, 5, 0])
    value = distillation_loss(Z[batch], W, indices=batch)
    assert float(value) == pytest.approx(double_sum(Z[batch], W[batch][:, batch]), rel=1e-12)
    # the same as the affinity of the batch's own teacher features (Algorithm 2, S2)
    from_batch = distillation_loss(Z[batch], teacher_affinity(T[batch], temperature=5.0))
    assert float(value) == pytest.approx(float(from_batch), rel=1e-12)


def test_distillation_gradient_is_two_l_z():
    W = teacher_affinity(random_rows(6, 2, seed=5), temperature=1.0)
    Z = random_rows(6, 3, seed=6).requires_grad_()
    distillation_loss(Z, W).backward()
    laplacian = torch.diag(W.sum(dim=1)) - W
    torch.testing.assert_close(Z.grad, 2.0 * laplacian @ Z.detach())


def direct_cross_entropy(Z: torch.Tensor, G: torch.Tensor, sigma: float) -> list[float]:
    """-log softmax of the cosine logits, written out row by row."""
    losses = []
    for i in range(Z.shape[0]):
        cosines = [float(functional.cosine_similarity(Z[i], g, dim=0)) for g in G]
        logits = [c / sigma for c in cosines]
        losses.append(-logits[i] + math.log(sum(math.exp(v) for v in logits)))
    return losses


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_contrast_is_cross_entropy_over_cosine_logits(reduction):
    Z, G = random_rows(5, 3, seed=7), random_rows(5, 3, seed=8)
    losses = direct_cross_entropy(Z, G, sigma=0.5)
    expected = sum(losses) if reduction == "sum" else sum(losses) / len(losses)
    value = contrastive_loss(Z, G, temperature=0.5, reduction=reduction)
    assert float(value) == pytest.approx(expected, rel=1e-10)


def test_contrast_is_low_when_each_code_matches_its_own_expression():
    Z = torch.eye(4, dtype=torch.float64)
    matched = contrastive_loss(Z, 2.0 * Z, temperature=0.1, reduction="mean")
    swapped = contrastive_loss(Z, Z.roll(1, dims=0), temperature=0.1, reduction="mean")
    assert float(matched) < 1e-3 < 5.0 < float(swapped)


def test_gradients_flow_to_codes_and_coefficients():
    Z = random_rows(6, 3, seed=9).requires_grad_()
    C = (0.1 * random_rows(6, 6, seed=10)).fill_diagonal_(0.0).requires_grad_()
    G = C.T @ Z
    W = teacher_affinity(random_rows(6, 4, seed=11), temperature=2.0)
    (distillation_loss(Z, W) + contrastive_loss(Z, G, temperature=0.5)).backward()
    assert Z.grad is not None and torch.isfinite(Z.grad).all() and Z.grad.abs().sum() > 0
    assert C.grad is not None and torch.isfinite(C.grad).all() and C.grad.abs().sum() > 0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="temperature t"):
        teacher_affinity(random_rows(3, 2, seed=0), temperature=0.0)
    with pytest.raises(ValueError, match="n × n"):
        distillation_loss(random_rows(3, 2, seed=0), torch.zeros(4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="both be n × d"):
        contrastive_loss(random_rows(3, 2, seed=0), random_rows(4, 2, seed=0), 0.5)
