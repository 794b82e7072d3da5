"""The deep core's objective as named, weighted terms: values, weight 0, auxiliaries, hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep import (
    Auxiliary,
    Batch,
    DeepSelfExpressiveClustering,
    LossTerm,
    MemoryBudgetError,
    Objective,
    Reconstruction,
    SelfExpression,
    Weighted,
)
from benchmark.spectral import dsc_postprocess, keep_largest
from tests.deep_fixtures import KilledAfterSaves, small_model

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_data_home")


def hand_made_batch() -> Batch:
    data = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    reconstruction = torch.tensor([[1.5, 2.0], [0.0, 0.0], [2.0, 1.0]])
    codes = torch.tensor([[1.0], [2.0], [-1.0]])
    coef = torch.tensor([[0.0, 0.5, 1.0], [0.5, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return Batch(
        stage="finetune",
        epoch=0,
        data=data,
        codes=codes,
        reconstruction=reconstruction,
        indices=torch.arange(3),
        expressed=coef.t() @ codes,
        coef=coef,
    )


class Exploding(LossTerm):
    """A term that must never be computed."""

    name = "exploding"

    def value(self, batch: Batch) -> torch.Tensor:
        raise AssertionError("a term of weight 0 was computed")


class MeanCode(LossTerm):
    """Mean of the codes: a term with a gradient that changes the fit."""

    name = "mean_code"

    def value(self, batch: Batch) -> torch.Tensor:
        return batch.codes.mean()

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        return 4 * n * n


def test_core_terms_equal_their_formulas_on_hand_made_inputs():
    batch = hand_made_batch()
    # ½‖X − X̂‖²: differences 0.5, 0, 0, 1, 1, 0 -> ½ (0.25 + 1 + 1) = 1.125
    assert float(Reconstruction().value(batch)) == pytest.approx(1.125)
    # ZC for codes (1, 2, -1): point 0 = 0.5·2 = 1 ... (column j of C writes point j)
    np.testing.assert_allclose(batch.expressed.numpy().ravel(), [1.0, -0.5, 1.0])
    # ½‖Z − ZC‖² = ½ (0 + 2.5² + 2²) = 5.125
    assert float(SelfExpression().value(batch)) == pytest.approx(5.125)


def test_objective_sums_weighted_terms_and_skips_weight_zero():
    batch = hand_made_batch()
    objective = Objective(
        [
            Weighted(Reconstruction(), 1.0),
            Weighted(SelfExpression(), 2.0),
            Weighted(Exploding(), 0.0),
        ],
        "l1",
        0.5,
    )
    total, values = objective.loss(batch)
    assert float(total) == pytest.approx(1.125 + 2 * 5.125)
    assert set(values) == {"reconstruction", "self_expression"}
    assert [entry["term"] for entry in objective.describe("finetune")] == [
        "reconstruction",
        "self_expression",
        "regularizer_l1",
    ]
    assert [entry["term"] for entry in objective.describe("pretrain")] == ["reconstruction"]


def test_objective_refuses_duplicate_names_and_negative_weights():
    with pytest.raises(ValueError, match="unique names"):
        Objective([Weighted(Reconstruction(), 1.0), Weighted(Reconstruction(), 1.0)], "l2", 1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        Weighted(SelfExpression(), -1.0)


class WithTerm(DeepSelfExpressiveClustering):
    """DSC-Net plus one extra term (weight ``extra_weight``) and optional start weights."""

    def __init__(self, extra_weight: float = 0.0, start_from_zero: bool = False, **base):
        super().__init__(**base)
        self.extra_weight = extra_weight
        self.start_from_zero = start_from_zero

    def _extra_objective(self, context):
        term = Exploding() if self.extra_weight == 0 else MeanCode()
        return [Weighted(term, self.extra_weight)], []

    def _initial_weights(self, model, X, seed):
        if not self.start_from_zero:
            return None
        return {name: torch.zeros_like(value) for name, value in model.state_dict().items()}


def with_term(**overrides) -> WithTerm:
    return WithTerm(**{**small_model().get_params(), **overrides})


def test_a_term_at_weight_zero_changes_nothing(nonlinear_union):
    X, _ = nonlinear_union
    plain = small_model(finetune_epochs=20).fit(X)
    zero = with_term(finetune_epochs=20, extra_weight=0.0).fit(X)
    np.testing.assert_array_equal(zero.coef_, plain.coef_)
    assert zero.finetune_loss_ == plain.finetune_loss_
    weighted = with_term(finetune_epochs=20, extra_weight=10.0).fit(X)
    assert not np.array_equal(weighted.coef_, plain.coef_)
    assert "mean_code" in weighted.objective_terms_


def test_subclass_parameters_join_the_base_parameters():
    model = with_term(extra_weight=2.0)
    params = model.get_params()
    assert params["extra_weight"] == 2.0 and params["lambda1"] == 1.0
    assert "checkpoint" in params and "n_clusters" in params
    from sklearn.base import clone

    assert clone(model).get_params() == params


def test_start_weights_are_part_of_the_pretraining_cache_key(nonlinear_union):
    X, _ = nonlinear_union
    settings = dict(use_cache=True, pretrain_epochs=5, finetune_epochs=5)
    first = with_term(**settings).fit(X)
    assert not first.pretrain_cached_
    zero_start = with_term(**settings, start_from_zero=True).fit(X)
    assert not zero_start.pretrain_cached_  # another start: another pretraining
    again = with_term(**settings, start_from_zero=True, regularizer="l2").fit(X)
    assert again.pretrain_cached_  # same start and pretraining, other fine-tuning
    assert zero_start.pretrain_loss_ != first.pretrain_loss_


def test_extra_terms_are_counted_by_the_memory_guard(nonlinear_union):
    X, _ = nonlinear_union
    # 160 points: MeanCode claims 4·n² bytes = 0.1 MiB; the core needs far more than 1 MiB
    # anyway, so compare budgets just around the core's own need.
    core = small_model(memory_budget_mb=10_000).fit(X)
    assert core.labels_.shape == (len(X),)

    class Huge(MeanCode):
        def memory_bytes(self, n, latent_dim):
            return 10 * 2**40

    class WithHuge(WithTerm):
        def _extra_objective(self, context):
            return [Weighted(Huge(), 1.0)], []

    with pytest.raises(MemoryBudgetError, match="the method's own terms: 10240.0 GiB"):
        WithHuge(**{**small_model().get_params(), "memory_budget_mb": 10_000}).fit(X)


class Counter(Auxiliary):
    """A toy auxiliary network: a linear map trained to predict the codes' norms."""

    name = "counter"

    def __init__(self, latent_dim: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(latent_dim, 1, generator=generator).requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.weight], lr=1e-2)
        self.updates = 0

    def update(self, batch: Batch) -> dict[str, float]:
        target = batch.codes.norm(dim=1, keepdim=True)
        loss = ((batch.codes @ self.weight - target) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        return {"counter": float(loss.detach())}

    def state_dict(self) -> dict:
        return {
            "weight": self.weight.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state) -> None:
        with torch.no_grad():
            self.weight.copy_(state["weight"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = state["updates"]


class Steered(LossTerm):
    """Pulls the codes towards what the auxiliary network predicts (uses its weights)."""

    name = "steered"

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    def value(self, batch: Batch) -> torch.Tensor:
        return (batch.codes @ self.counter.weight.detach()).pow(2).mean()


class WithAuxiliary(DeepSelfExpressiveClustering):
    def _extra_objective(self, context):
        counter = Counter(context.latent_dim, context.seed)
        return [Weighted(Steered(counter), 0.1)], [counter]


def test_auxiliary_state_is_checkpointed_and_resumes_bit_for_bit(tmp_path, nonlinear_union):
    X, _ = nonlinear_union
    settings = {**small_model().get_params(), "pretrain_epochs": 10, "finetune_epochs": 30}
    uninterrupted = WithAuxiliary(**settings).fit(X)
    path = tmp_path / "task.pt"
    with pytest.raises(KeyboardInterrupt):
        WithAuxiliary(**{**settings, "checkpoint": KilledAfterSaves(path, 10, 2)}).fit(X)
    saved = torch.load(path, weights_only=False)
    assert saved["stage"] == "finetune" and saved["auxiliaries"]["counter"]["updates"] == 10
    resumed = WithAuxiliary(**{**settings, "checkpoint": Checkpoint(path, 10)}).fit(X)
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)
    assert resumed.finetune_loss_ == uninterrupted.finetune_loss_


def test_post_processing_reads_c_in_one_orientation():
    rng = np.random.default_rng(0)
    C = np.abs(rng.standard_normal((12, 12))) * (rng.random((12, 12)) < 0.5)
    np.fill_diagonal(C, 0)
    # the reference code's thrC walks the columns of its Coef = Cᵀ, i.e. the rows of C
    expected = dsc_postprocess(keep_largest(C.T, 0.5).T, 3, subspace_dim=2, alpha=2.0)
    np.testing.assert_allclose(
        dsc_postprocess(C, 3, subspace_dim=2, alpha=2.0, keep_fraction=0.5), expected
    )
    other = dsc_postprocess(keep_largest(C, 0.5), 3, subspace_dim=2, alpha=2.0)
    assert not np.allclose(other, expected)  # the orientation matters on this C


def test_the_runner_sees_the_base_parameters_of_a_subclass():
    from benchmark.worker import init_parameters

    accepted = init_parameters(WithTerm)
    assert {"checkpoint", "extra_weight", "lambda1", "n_clusters"} <= accepted


def test_fit_info_says_what_was_reused(nonlinear_union):
    X, _ = nonlinear_union
    first = small_model(use_cache=True, pretrain_epochs=5, finetune_epochs=5).fit(X)
    again = small_model(use_cache=True, pretrain_epochs=5, finetune_epochs=5).fit(X)
    assert first.fit_info_["coef_cached"] is False and again.fit_info_["coef_cached"] is True
    assert set(first.fit_info_["objective_terms"]) >= {"reconstruction", "self_expression"}
