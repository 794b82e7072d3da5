"""The DSCN-L1 / DSCN-L2 plugins: declarations, configs, and runs through the real CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.deep import DeepSelfExpressiveClustering
from benchmark.deep.network_defaults import deep_memory_mb
from benchmark.store import Store

from .data_fixtures import require_mirror

METHODS = {"dscn-l1": "l1", "dscn-l2": "l2"}
TARGETS = ("bbc", "fashion-mnist", "notmnist")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks gain nothing from threads, and lose a lot on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(("method_id", "regularizer"), METHODS.items())
def test_declaration(registry, method_id, regularizer):
    info = registry.method(method_id)
    assert info.estimator_class is DeepSelfExpressiveClustering
    assert info.view == "auto" and info.kind == "paper"
    assert {name: v["post_process"] for name, v in info.variants.items()} == {
        "": False,
        "post": True,
    }
    for dataset_id in TARGETS:
        params = info.params_for(dataset_id, registry.dataset(dataset_id).features)
        assert params["regularizer"].value == regularizer
        assert all(p.source for p in params.values()), "every value needs its source"
        estimator = info.estimator_class(
            n_clusters=5, random_state=0, **{k: p.value for k, p in params.items()}
        )
        assert estimator.get_params()["regularizer"] == regularizer


def test_text_settings_follow_the_kind_of_features_not_the_dataset_id(registry):
    for method_id in METHODS:
        method = registry.method(method_id)
        for dataset_id in ("bbc", "20newsgroups", "20newsgroups-meta", "a-users-own-corpus"):
            params = method.params_for(dataset_id, "text")
            assert params["output_activation"].value == "linear"  # signed features
        assert method.params_for("bbc", "text") == method.params_for("my-corpus", "text")
        assert method.params_for("notmnist", "images")["output_activation"].value == "relu"
    assert registry.dataset("bbc").features == registry.dataset("20newsgroups").features == "text"


def test_data_without_settings_get_scale_free_transferred_ones(registry):
    """'*': unit-rms input and λ1 chosen across MNIST and Omniglot; the paper's datasets keep
    theirs (data as given), and LRSC, which scales nothing, keeps the image settings."""
    for method_id in ("dscn-l1", "dscn-l2", "dpsc", "dasc"):
        anywhere = registry.method(method_id).params_for("synthetic", "vectors")
        assert anywhere["input_scale"].value == "unit-rms"
        assert anywhere["lambda1"].value == 0.1
        assert anywhere["lambda1"].source.startswith("transfer:mnist+omniglot:")
        for dataset, features in (("fashion-mnist", "images"), ("bbc", "text")):
            params = registry.method(method_id).params_for(dataset, features)
            assert params["input_scale"].value == "as-given"
    images = registry.method("dscn-l2").params_for("notmnist", "images")
    assert images["lambda1"].value == 0.01
    lrsc = registry.method("lrsc-l2").params_for("synthetic", "vectors")
    assert lrsc["input_scale"].value == "as-given" and lrsc["lambda1"].value == 0.01


def test_memory_estimate_counts_c_and_its_adam_moments():
    small, large = deep_memory_mb(1000, 1024), deep_memory_mb(10_000, 1024)
    assert small < large
    assert large > 3 * 10_000**2 * 4 / 2**20  # C and two Adam moments in float32


@pytest.mark.parametrize("method_id", METHODS)
def test_both_readouts_run_through_the_cli_with_one_fine_tuning(tmp_path, monkeypatch, method_id):
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path / "home"))  # the CLI overwrites it
    out = tmp_path / "out"
    quick = [f"{method_id}.{name}=2" for name in ("pretrain_epochs", "finetune_epochs")]
    code = main(
        ["run", "--methods", method_id, "--datasets", "synthetic", "--sizes", "100",
         "--seeds", "0", "--executor", "debug", "--out", str(out),
         "--data-home", str(tmp_path / "home"), "--set", quick[0], "--set", quick[1],
         "--set", f"{method_id}.output_activation=linear",
         "--set", f"{method_id}.post_subspace_dim=2"]
    )  # fmt: skip
    assert code == 0
    records = {r["variant"]: r for r in Store(out).records()}
    assert set(records) == {"", "post"}
    assert all(r["status"] == "ok" for r in records.values()), records
    assert records[""]["convergence"]["iterations"] == 2
    cached = list((tmp_path / "home" / "deep" / "coefficients").glob("*.pt"))
    assert len(cached) == 1, "the two readouts must share one fine-tuned C"


@pytest.mark.data
def test_real_images_slice_runs_with_the_convolutional_network(registry, tmp_path, monkeypatch):
    mirror = require_mirror("fashion-mnist/train-images-idx3-ubyte.gz")
    monkeypatch.setenv("SUBSPACE_BENCH_MIRROR", str(mirror))
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path / "home"))
    dataset = registry.dataset("fashion-mnist")
    bundle = dataset.load(1000, 0, **{k: p.value for k, p in dataset.params.items()})
    images, y = bundle.view("auto")[:120], bundle.y[:120]
    params = {k: p.value for k, p in registry.method("dscn-l2").params_for("fashion-mnist").items()}
    params.update(pretrain_epochs=1, finetune_epochs=2, use_cache=False, post_process=True)
    model = DeepSelfExpressiveClustering(n_clusters=10, random_state=0, **params).fit(images)
    assert model.coef_.shape == (120, 120) and np.count_nonzero(np.diag(model.coef_)) == 0
    assert len(np.unique(model.labels_)) > 1 and len(y) == 120
