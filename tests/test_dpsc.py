"""DPSC: the distribution-consistency term against direct formulas, and the plugin."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.deep import Batch, DeepSelfExpressiveClustering
from benchmark.deep.network_defaults import deep_memory_mb
from benchmark.metrics import clustering_accuracy
from benchmark.registry import load_module
from tests.deep_fixtures import small_model

DPSC = load_module(Path(__file__).resolve().parents[1] / "methods" / "estimators" / "dpsc.py")
DECLARATION = load_module(Path(__file__).resolve().parents[1] / "methods" / "dpsc.py")
SOURCE_PREFIXES = ("paper:", "reference code:", "transfer:", "label-free:", "oracle:", "choice:")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def settings(**overrides) -> dict:
    """The deep core tests' small network (tests/deep_fixtures.py) with ``overrides``."""
    return {**small_model().get_params(), **overrides}


def loop_input_similarities(X: np.ndarray, perplexity: float) -> np.ndarray:
    """t-SNE's P by plain loops: scalar bisection of each β_i, then (p_j|i + p_i|j) / 2n."""
    n = len(X)
    dist = [[sum((a - b) ** 2 for a, b in zip(X[i], X[j], strict=True)) for j in range(n)]
            for i in range(n)]  # fmt: skip
    conditional = np.zeros((n, n))
    for i in range(n):
        others = [j for j in range(n) if j != i]
        low, high, beta = 0.0, math.inf, 1.0
        for _ in range(200):
            weights = [math.exp(-beta * (dist[i][j] - min(dist[i][k] for k in others)))
                       for j in others]  # fmt: skip
            probs = [w / sum(weights) for w in weights]
            entropy = -sum(p * math.log(p) for p in probs if p > 0)
            if entropy > math.log(perplexity):
                low = beta
            else:
                high = beta
            beta = 2 * beta if high == math.inf else (low + high) / 2
        for j, p in zip(others, probs, strict=True):
            conditional[i, j] = p
    return (conditional + conditional.T) / (2 * n)


def loop_kl(P: np.ndarray, Z: np.ndarray) -> float:
    """Σ_{i≠j} p_ij log(p_ij / q_ij), q from the unit Student-t kernel, by double sums."""
    n = len(Z)
    kernel = [[0.0 if i == j else 1.0 / (1.0 + float(((Z[i] - Z[j]) ** 2).sum()))
               for j in range(n)] for i in range(n)]  # fmt: skip
    total = sum(sum(row) for row in kernel)
    return sum(P[i, j] * math.log(P[i, j] / (kernel[i][j] / total))
               for i in range(n) for j in range(n) if i != j)  # fmt: skip


def hand_made(n: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(3)
    X = torch.from_numpy(rng.standard_normal((n, 5)))
    Z = torch.from_numpy(rng.standard_normal((n, 3)))
    return X, Z


@pytest.mark.parametrize("block", [None, 3])
def test_input_similarities_match_the_loop_formula(block):
    X, _ = hand_made()
    P = DPSC.input_similarities(X, perplexity=3.0, block=block)
    np.testing.assert_allclose(P.numpy(), loop_input_similarities(X.numpy(), 3.0), atol=1e-9)
    assert float(P.sum()) == pytest.approx(1.0)
    assert torch.equal(P, P.t()) and torch.count_nonzero(torch.diagonal(P)) == 0


@pytest.mark.parametrize("block", [None, 2])
def test_term_equals_n_times_the_double_sum_kl(block):
    X, Z = hand_made()
    term = DPSC.DistributionConsistency(perplexity=3.0, block=block)
    value = term.value(full_batch(X, Z))
    expected = len(Z) * loop_kl(loop_input_similarities(X.numpy(), 3.0), Z.numpy())
    assert float(value) == pytest.approx(expected, rel=1e-9)


def full_batch(X: torch.Tensor, Z: torch.Tensor):
    n = len(X)
    return Batch(
        stage="finetune", epoch=0, data=X, codes=Z, reconstruction=X, indices=torch.arange(n)
    )


def test_gradient_is_the_kl_gradient():
    """The block-wise t-SNE gradient equals autograd through a dense KL, and gradcheck."""
    X, Z = hand_made()
    term = DPSC.DistributionConsistency(perplexity=3.0, block=2)
    codes = Z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(term.value(full_batch(X, codes)), codes)
    P = term.joint
    dense = codes.detach().clone().requires_grad_(True)
    off = ~torch.eye(len(X), dtype=torch.bool)
    kernel = 1.0 / (1.0 + ((dense[:, None, :] - dense[None, :, :]) ** 2).sum(-1))
    q = kernel[off] / kernel[off].sum()
    (expected,) = torch.autograd.grad(len(X) * (P[off] * torch.log(P[off] / q)).sum(), dense)
    torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradcheck(lambda z: term.value(full_batch(X, z)), (codes,))


def test_weight_zero_never_computes_the_term_and_is_dscn(nonlinear_union, monkeypatch):
    X, _ = nonlinear_union

    def refuse(self, batch):
        raise AssertionError("a term of weight 0 was computed")

    monkeypatch.setattr(DPSC.DistributionConsistency, "value", refuse)
    dpsc = DPSC.DistributionPreservingClustering(distribution_weight=0.0, **settings()).fit(X)
    dscn = DeepSelfExpressiveClustering(**settings()).fit(X)
    np.testing.assert_array_equal(dpsc.coef_, dscn.coef_)
    np.testing.assert_array_equal(dpsc.labels_, dscn.labels_)
    assert "distribution_consistency" not in dpsc.objective_terms_


def test_clusters_a_nonlinear_union_of_subspaces(nonlinear_union):
    X, y = nonlinear_union
    model = DPSC.DistributionPreservingClustering(
        distribution_weight=1.0, perplexity=10.0, **settings()
    ).fit(X)
    assert clustering_accuracy(y, model.labels_) >= 0.9  # chance is about 0.3
    assert model.objective_terms_["distribution_consistency"] > 0
    assert np.count_nonzero(np.diag(model.coef_)) == 0
    plain = DeepSelfExpressiveClustering(**settings()).fit(X)
    assert not np.array_equal(model.coef_, plain.coef_), "the term must change the fit"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"distribution_weight": -1.0}, r"distribution_weight \(λ3\) must be >= 0"),
        ({"perplexity": 500.0}, r"perplexity must lie between 1 and n - 1 = 159"),
        ({"perplexity": 1.0}, "perplexity must lie between"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(nonlinear_union, overrides, message):
    X, _ = nonlinear_union
    model = DPSC.DistributionPreservingClustering(**{**settings(finetune_epochs=1), **overrides})
    with pytest.raises(ValueError, match=message):
        model.fit(X)


def test_declaration(registry):
    info = registry.method("dpsc")
    assert info.estimator_class is DPSC.DistributionPreservingClustering
    assert info.view == "auto" and info.kind == "paper"
    assert {name: v["post_process"] for name, v in info.variants.items()} == {
        "": False,
        "post": True,
    }
    for dataset_id in ("bbc", "20newsgroups", "fashion-mnist", "notmnist"):
        params = info.params_for(dataset_id, registry.dataset(dataset_id).features)
        for name in ("distribution_weight", "perplexity", "regularizer"):
            assert params[name].source.startswith(SOURCE_PREFIXES), (name, params[name])
        text = registry.dataset(dataset_id).features == "text"
        assert (params["output_activation"].value == "linear") == text
        estimator = info.estimator_class(
            n_clusters=5, random_state=0, **{k: p.value for k, p in params.items()}
        )
        assert estimator.get_params()["distribution_weight"] == params["distribution_weight"].value


def test_memory_estimate_counts_the_input_similarity_matrix():
    n = 10_000
    extra = DECLARATION.dpsc_memory_mb(n, 1024) - deep_memory_mb(n, 1024)
    assert n * n * 4 / 2**20 <= extra < 2 * n * n * 4 / 2**20
