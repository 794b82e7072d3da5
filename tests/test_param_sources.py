"""Parameter sources are machine-readable (PROTOCOL.md) and give every record its ``tuning``."""

from __future__ import annotations

import pytest

from benchmark.plugins import SourceError, source_kind, tuning_level, tuning_of
from benchmark.registry import Registry
from benchmark.tasks import expand_grid
from benchmark.worker import base_record

BUILT_IN = Registry()
"""The plugins in methods/ and datasets/ (the test plugins have no real sources)."""


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("paper: SSC TPAMI 2013, α_z = 20", ("paper", None)),
        ("reference code: inexact_alm_lrr_l21 tol = 1e-8", ("reference", None)),
        ("transfer:20newsgroups-meta: λ searched on the 10 other groups",
         ("transfer", "20newsgroups-meta")),
        ("label-free:support-size+run-time: sparse", ("label-free", "support-size+run-time")),
        ("oracle: searched with the evaluated labels", ("oracle", None)),
        ("choice: batch size", ("choice", None)),
        ("command line (--set)", ("command-line", None)),
    ],
)  # fmt: skip
def test_source_kinds(source, kind):
    assert source_kind(source) == kind


@pytest.mark.parametrize(
    "source",
    [
        "our choice: a cap",
        "our search, labels used: λ ∈ {1, 2}",
        "transfer: no name",
        "paper:x",
        "",
    ],
)
def test_unknown_or_malformed_source_is_a_clear_error(source):
    with pytest.raises(SourceError, match="does not start with a known kind.*'choice: '"):
        source_kind(source)


def test_the_worst_source_decides_the_tuning_and_every_criterion_is_listed():
    assert tuning_of({"a": "paper: x", "b": "choice: y"}) == "paper"
    assert tuning_of({"a": "paper: x", "b": "reference code: y"}) == "reference"
    assert tuning_of({"a": "choice: y"}) == tuning_of({}) == "choice"
    mixed = {
        "a": "paper: x",
        "b": "transfer:fashion-mnist-tuning: y",
        "c": "label-free:eigengap: z",
        "d": "transfer:20newsgroups-meta: w",
    }
    assert tuning_of(mixed) == (
        "label-free:eigengap; transfer:20newsgroups-meta; transfer:fashion-mnist-tuning"
    )
    assert tuning_level(tuning_of(mixed)) == "label-free"
    assert tuning_of({**mixed, "e": "oracle: labels"}) == "oracle"
    assert tuning_of({"a": "paper: x", "b": "command line (--set)"}) == "command-line"
    assert tuning_level(None) == "unknown"


@pytest.mark.parametrize("method_id", sorted(BUILT_IN.methods))
def test_every_method_source_classifies(method_id):
    method = BUILT_IN.method(method_id)
    for params in method.defaults.values():
        for param in params.values():
            source_kind(param.source)  # raises SourceError naming the source


@pytest.mark.parametrize("dataset_id", sorted(BUILT_IN.datasets))
def test_every_dataset_source_classifies(dataset_id):
    for param in BUILT_IN.dataset(dataset_id).params.values():
        source_kind(param.source)


def test_records_state_their_tuning_and_an_unreadable_source_does_not_crash(registry):
    (task,) = expand_grid(registry, ["lrr"], ["bbc"], None, [0])
    assert base_record(task, "attempt")["tuning"] == tuning_of(task.param_sources)
    old_style = type(task)(**{**task.to_dict(), "param_sources": {"lam": "our search: λ"}})
    record = base_record(old_style, "attempt")
    assert record["tuning"] == "unknown" and "our search" in record["tuning_error"]


def test_no_default_setting_is_oracle():
    """PROTOCOL.md: a label-tuned value may only be a marked variant, never a default."""
    targets = sorted(i for i, d in BUILT_IN.datasets.items() if d.kind == "target")
    for method_id in sorted(BUILT_IN.methods):
        method = BUILT_IN.method(method_id)
        for dataset_id in targets:
            features = BUILT_IN.dataset(dataset_id).features
            sources = {n: p.source for n, p in method.params_for(dataset_id, features).items()}
            assert tuning_level(tuning_of(sources)) != "oracle", (method_id, dataset_id)
