"""LRSC (benchmark.deep.lrsc, methods/lrsc_l*.py): terms, switches, start, resume, runner."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep import Batch, DeepSelfExpressiveClustering, TrainingContext
from benchmark.deep.distillation import contrastive_loss, distillation_loss, teacher_affinity
from benchmark.deep.lrsc import LRSC, TEACHER_KEY, Contrast, Distillation
from benchmark.deep.lrsc_settings import lrsc_meta_sources
from benchmark.deep.meta_learning import meta_learn
from benchmark.meta import MetaSource
from benchmark.plugins import source_kind
from benchmark.registry import Registry
from benchmark.synthetic import union_of_subspaces
from benchmark.tasks import expand_grid
from benchmark.worker import run_task
from tests.deep_fixtures import N_CLUSTERS, KilledAfterSaves

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_data_home")

PLUGINS = Path(__file__).parent / "plugins"
BASE = dict(
    n_clusters=N_CLUSTERS,
    random_state=0,
    regularizer="l2",
    lambda1=1.0,
    lambda2=1.0,
    dense_hidden=(16,),
    output_activation="linear",
    pretrain_epochs=5,
    pretrain_batch_size=32,
    finetune_epochs=10,
    finetune_lr=1e-2,
    use_cache=False,
)
TINY_META = dict(
    meta_ways=3,
    meta_shots=4,
    meta_train_shots=2,
    meta_tasks_per_step=2,
    meta_outer_steps=3,
    meta_inner_lr=1e-3,
    meta_coef_steps=5,
    teacher_epochs=2,
)
OFF = dict(task_level=False, model_level=False, self_supervision=False)


@pytest.fixture(scope="module")
def meta_data(nonlinear_union) -> tuple[np.ndarray, np.ndarray]:
    """6 classes of 16 points on other 3-dimensional subspaces, through the same map."""
    X, y = union_of_subspaces(6, 3, 20, 16, noise=0.05, seed=7)
    W = np.random.default_rng(1).standard_normal((20, 30)) / np.sqrt(20)
    return np.tanh(3 * X @ W).astype(np.float32), y


def lrsc(meta_data=None, **overrides) -> LRSC:
    return LRSC(**{**BASE, **TINY_META, "meta_data": meta_data, **overrides})


def active(objective, stage: str) -> list[str]:
    return [weighted.term.name for weighted in objective.active(stage)]


@pytest.mark.parametrize("task,model,self_", list(itertools.product([False, True], repeat=3)))
def test_each_switch_zeroes_exactly_its_terms(task, model, self_):
    est = lrsc(task_level=task, model_level=model, self_supervision=self_)
    context = TrainingContext(20, 8, N_CLUSTERS, 0, torch.device("cpu"))
    objective = est.objective(context)
    extra_finetune = ["distillation"] * model + ["contrast"] * self_
    assert active(objective, "finetune") == ["reconstruction", "self_expression", *extra_finetune]
    assert active(objective, "pretrain") == ["reconstruction"] + ["distillation"] * model
    weights = est.effective_weights()
    assert (weights["mu"] > 0, weights["gamma"] > 0) == (model, self_)
    assert (weights["eta"] > 0) == (task and model)  # η is the meta-learning's distillation
    assert (est.meta_learning_settings().eta > 0) == (task and model)
    if not task:
        assert est._initial_weights(None, np.zeros((4, 30), np.float32), 0) is None


def test_all_switches_off_is_exactly_dscn_l2(nonlinear_union):
    X, _ = nonlinear_union
    dscn = DeepSelfExpressiveClustering(**BASE).fit(X)
    ablated = lrsc(**OFF).fit(X)  # no meta data needed
    np.testing.assert_array_equal(ablated.coef_, dscn.coef_)
    np.testing.assert_array_equal(ablated.labels_, dscn.labels_)
    assert ablated.pretrain_loss_ == dscn.pretrain_loss_
    assert ablated.finetune_loss_ == dscn.finetune_loss_


def test_the_ablation_none_row_has_dscn_l2s_settings():
    registry = Registry()
    lrsc_l2, dscn_l2 = registry.method("lrsc-l2"), registry.method("dscn-l2")
    assert set(lrsc_l2.variants) == {"", "post", "ablation-none", "ablation-task",
                                     "ablation-task+model"}  # fmt: skip
    assert lrsc_l2.variants["ablation-none"] == OFF
    for dataset, features in (("bbc", "text"), ("notmnist", "images")):
        ours = lrsc_l2.params_for(dataset, features)
        theirs = dscn_l2.params_for(dataset, features)
        assert {name: ours[name].value for name in theirs} == {
            name: param.value for name, param in theirs.items()
        }
        for param in ours.values():
            source_kind(param.source)  # every source has a known kind
    assert registry.method("lrsc-l1").params_for("bbc", "text")["regularizer"].value == "l1"
    assert set(registry.method("lrsc-l1").variants) == {"", "post"}


def hand_made_features() -> tuple[torch.Tensor, torch.Tensor]:
    teacher = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
    codes = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, -1.0], [2.0, 0.0, 1.0], [-1.0, 1.0, 1.0]])
    return teacher, codes


def double_sum(teacher: torch.Tensor, codes: torch.Tensor, t: float) -> float:
    """½ Σ_{i≠j} exp(−‖T_i − T_j‖²/t) ‖Z_i − Z_j‖², written out (Eq. (4)-(5))."""
    total = 0.0
    for i, j in itertools.product(range(len(codes)), repeat=2):
        if i != j:
            weight = np.exp(-float(((teacher[i] - teacher[j]) ** 2).sum()) / t)
            total += 0.5 * weight * float(((codes[i] - codes[j]) ** 2).sum())
    return total


def test_distillation_term_is_eq4_with_eq5s_w_per_point():
    teacher, codes = hand_made_features()
    term = Distillation(temperature=2.0)
    full = Batch("finetune", 0, codes, codes, codes, torch.arange(4), codes, None,
                 {TEACHER_KEY: teacher})  # fmt: skip
    value = term.value(full)
    expected = distillation_loss(codes, teacher_affinity(teacher, 2.0)) / 4
    torch.testing.assert_close(value, expected)
    assert float(value) == pytest.approx(double_sum(teacher, codes, 2.0) / 4, rel=1e-5)
    cached = term._full_affinity
    term.value(full)
    assert term._full_affinity is cached  # W is computed once while fine-tuning
    rows = torch.tensor([3, 0, 2])  # a pretraining mini-batch: its rows of T, W per batch
    batch = Batch("pretrain", 0, codes[rows], codes[rows], codes[rows], rows,
                  auxiliary={TEACHER_KEY: teacher[rows]})  # fmt: skip
    assert float(term.value(batch)) == pytest.approx(
        double_sum(teacher[rows], codes[rows], 2.0) / 3, rel=1e-5
    )
    # the last mini-batch of 9,301 points in batches of 100 holds one point: no pair, 0
    one = torch.tensor([1])
    codes_one = codes[one].clone().requires_grad_(True)
    single = Batch("pretrain", 0, codes_one, codes_one, codes_one, one,
                   auxiliary={TEACHER_KEY: teacher[one]})  # fmt: skip
    value = term.value(single)
    value.backward()
    assert float(value.detach()) == 0.0 and codes_one.grad is not None
    assert term.memory_bytes(1000, 10) == 4 * 1000 * 1000


def test_contrast_term_is_eq8_summed_over_points():
    _, codes = hand_made_features()
    expressed = codes.flip(0) + 0.1
    batch = Batch("finetune", 0, codes, codes, codes, torch.arange(4), expressed, None)
    value = Contrast(temperature=0.5).value(batch)
    torch.testing.assert_close(value, contrastive_loss(codes, expressed, 0.5, reduction="sum"))
    logits = (
        torch.nn.functional.normalize(codes, dim=1)
        @ torch.nn.functional.normalize(expressed, dim=1).T
    )
    by_hand = -sum(torch.log_softmax(logits[i] / 0.5, 0)[i] for i in range(4))
    assert float(value) == pytest.approx(float(by_hand), rel=1e-5)


def test_the_meta_learner_is_the_start_of_the_target(nonlinear_union, meta_data, tmp_path):
    X, _ = nonlinear_union
    settings = dict(model_level=False, self_supervision=False, use_cache=True, pretrain_epochs=0)
    first = lrsc(meta_data, **settings).fit(X)
    assert first.meta_learner_cached_ is False and len(first.meta_loss_) == 3
    network = dict(conv_channels=(), kernel_size=3, dense_hidden=(16,), output_activation="linear")
    direct = meta_learn(*meta_data, first.meta_learning_settings(), **network, seed=0)
    (entry,) = (Path(tmp_path) / "data-home" / "deep" / "pretrained").glob("*.pt")
    started = torch.load(entry, weights_only=False)["value"]["model"]  # 0 epochs: the start
    assert started.keys() == direct.state_dict.keys()
    for name, tensor in direct.state_dict.items():
        torch.testing.assert_close(started[name], tensor, rtol=0, atol=0)
    other_c = lrsc(meta_data, **settings, finetune_epochs=4).fit(X)  # λ2 would change λ4
    assert other_c.meta_learner_cached_ and other_c.pretrain_cached_
    other_start = lrsc(meta_data, **settings, meta_outer_steps=2).fit(X)
    assert not other_start.meta_learner_cached_ and not other_start.pretrain_cached_
    random_start = lrsc(meta_data, **{**settings, "task_level": False}).fit(X)
    assert not random_start.pretrain_cached_
    assert not np.array_equal(random_start.coef_, first.coef_)


@pytest.mark.parametrize(
    "every,saves,stage", [(1, 2, "meta-learning"), (5, 2, "finetune")], ids=["meta", "finetune"]
)
def test_a_killed_run_resumes_to_the_same_result(
    nonlinear_union, meta_data, tmp_path, every, saves, stage
):
    X, _ = nonlinear_union
    uninterrupted = lrsc(meta_data).fit(X)
    path = tmp_path / "task.pt"
    with pytest.raises(KeyboardInterrupt):
        lrsc(meta_data, checkpoint=KilledAfterSaves(path, every, saves)).fit(X)
    assert torch.load(path, weights_only=False)["stage"] == stage
    resumed = lrsc(meta_data, checkpoint=Checkpoint(path, every)).fit(X)
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)
    assert resumed.meta_loss_ == uninterrupted.meta_loss_
    assert resumed.finetune_loss_ == uninterrupted.finetune_loss_


def test_missing_or_misshapen_meta_data_is_a_clear_error(nonlinear_union, meta_data):
    X, _ = nonlinear_union
    with pytest.raises(ValueError, match="task_level and model_level need meta data"):
        lrsc().fit(X)
    with pytest.raises(ValueError, match="model_level need meta data.*switch model_level off"):
        lrsc(task_level=False).fit(X)
    with pytest.raises(ValueError, match="shaped like the target's"):
        lrsc((meta_data[0][:, :10], meta_data[1])).fit(X)


def test_meta_sources_follow_the_paper():
    (bbc,) = lrsc_meta_sources("bbc", {"meta_source": "20newsgroups-meta", "n_components": 256,
                                       "min_df": 2})  # fmt: skip
    assert bbc == MetaSource("20newsgroups-meta", {"n_components": 256, "min_df": 2,
                             "feature_space": "bbc", "groups": "all"}, n_points=18846)  # fmt: skip
    target = {"meta_source": "20newsgroups-meta", "n_components": 512,
              "target_categories": ("a", "b"), "remove": ("headers",)}  # fmt: skip
    (news,) = lrsc_meta_sources("20newsgroups", target)
    assert news.params["feature_space"] == "20newsgroups" and "groups" not in news.params
    assert news.params["target_categories"] == ("a", "b") and news.n_points is None
    images = {"meta_source": "miniimagenet", "image_size": 32, "interpolation": "bilinear"}
    assert [s.dataset for s in lrsc_meta_sources("notmnist", images)] == [
        "miniimagenet", "mnist", "omniglot"
    ]  # fmt: skip
    chosen = lrsc_meta_sources("notmnist", {**images, "meta_source": "omniglot"})
    assert [s.dataset for s in chosen] == ["omniglot", "mnist"]
    assert chosen[0].params == {"image_size": 32, "interpolation": "bilinear"}
    assert lrsc_meta_sources("synthetic", {"ambient_dim": 30}) == []


def test_a_text_tuning_half_learns_from_the_other_half():
    tuning = {"feature_space": "bbc", "groups": "meta-even", "n_components": None}
    (source,) = lrsc_meta_sources("20newsgroups-meta", tuning)
    assert source == MetaSource("20newsgroups-meta", {**tuning, "groups": "meta-odd"},
                                n_points=4000)  # fmt: skip
    assert lrsc_meta_sources("20newsgroups-meta", {**tuning, "groups": "meta"}) == []


def test_meta_data_reaches_lrsc_through_the_runner(tmp_path):
    registry = Registry([PLUGINS])
    blobs = dataclasses.replace(  # a tiny meta source in the synthetic target's dimension
        registry.method("lrsc-l2"),
        meta=lambda dataset, params: [MetaSource("meta-blobs", {"dim": params["ambient_dim"]})],
    )
    registry.methods[blobs.id] = blobs
    tiny = {name: [value] for name, value in {**TINY_META, "meta_ways": 2, "dense_hidden": (16,),
            "pretrain_epochs": 3, "finetune_epochs": 5, "lambda1": 1.0}.items()}  # fmt: skip
    tasks = expand_grid(registry, ["lrsc-l2"], ["synthetic"], [60], [0], {"lrsc-l2": tiny})
    (full,) = [task for task in tasks if task.variant == ""]
    assert full.meta_source["dataset"] == "meta-blobs"
    record = run_task(full, str(tmp_path / "out"))
    assert record["status"] == "ok", record["error"]
    assert record["meta_source"]["params"]["dim"] == 30
    assert record["meta_data_info"] == {"generator": "blobs"}
    deep = tmp_path / "data-home" / "deep"
    assert len(list((deep / "teachers").glob("*.pt"))) == 1  # trained on the meta data
    assert len(list((deep / "meta-learners").glob("*.pt"))) == 1


def test_lrsc_refuses_to_scale_its_target_alone():
    from benchmark.deep.lrsc import LRSC

    with pytest.raises(ValueError, match="would scale the target alone"):
        LRSC(n_clusters=2, input_scale="unit-rms")._self_expression(np.ones((4, 3), np.float32))
