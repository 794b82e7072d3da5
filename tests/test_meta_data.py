"""Meta data reaching a method through the engine (``benchmark.meta``, the grid, the worker)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmark.meta import MetaSource, resolve_meta_source
from benchmark.plugins import MethodInfo
from benchmark.registry import Registry
from benchmark.tasks import GridError, expand_grid
from benchmark.worker import run_task

from .data_fixtures import require_mirror

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry([PLUGINS])


def one_task(registry: Registry, method: str, **overrides):
    grid = {method: {name: [value] for name, value in overrides.items()}}
    (task,) = expand_grid(registry, [method], ["synthetic"], [60], [0], grid)
    return task


def test_the_grid_resolves_the_first_available_source(registry):
    task = one_task(registry, "meta-probe")
    assert task.meta_source == {"dataset": "meta-blobs", "params": {"n_classes": 3, "dim": 30},
                                "n_points": 60}  # fmt: skip
    assert task.meta_path == registry.paths[("dataset", "meta-blobs")]
    assert task.identity()["meta_source"] == task.meta_source


def test_the_meta_source_is_part_of_the_task_identity(registry):
    task = one_task(registry, "meta-probe")
    other = dataclasses.replace(task, meta_source={**task.meta_source, "n_points": 30})
    assert other.task_id != task.task_id
    plain = one_task(registry, "probe")  # no meta source: identity as before meta sources
    assert plain.meta_source is None and "meta_source" not in plain.identity()


def test_the_estimator_gets_the_arrays_and_the_record_names_the_source(registry, tmp_path):
    trace = tmp_path / "trace.json"
    task = one_task(registry, "meta-probe", trace=str(trace))
    record = run_task(task, str(tmp_path / "out"))
    assert record["status"] == "ok", record["error"]
    assert record["meta_source"]["dataset"] == "meta-blobs"
    assert record["meta_source"]["params"] == {"n_classes": 3, "dim": 30}
    assert record["meta_data_info"] == {"generator": "blobs"}
    seen = json.loads(trace.read_text())
    assert seen["X_shape"] == [60, 30] and seen["labels"] == [0, 1, 2]
    stored = json.loads((tmp_path / "out" / "records" / f"{task.task_id}.json").read_text())
    assert stored["meta_source"] == record["meta_source"]


def test_a_missing_meta_source_fails_the_task_saying_how_to_get_it(registry, tmp_path):
    task = one_task(registry, "meta-probe-missing")
    assert task.meta_source["dataset"] == "meta-missing"  # the only candidate is kept
    record = run_task(task, str(tmp_path / "out"))
    assert record["status"] == "failed"
    assert "the meta data of this task, 'meta-missing', is missing" in record["error"]
    assert "python -m benchmark fetch --datasets meta-missing" in record["error"]


def test_an_estimator_without_meta_data_is_a_clear_failure(registry, tmp_path):
    record = run_task(one_task(registry, "meta-probe-deaf"), str(tmp_path / "out"))
    assert record["status"] == "failed" and "takes no meta_data argument" in record["error"]


def test_bad_meta_sources_are_grid_errors(registry):
    method = registry.method("meta-probe")
    for source, message in (
        (MetaSource("no-such-data"), "not a known dataset"),
        (MetaSource("meta-blobs", {"colour": 1}), "no parameter 'colour'"),
    ):
        broken = dataclasses.replace(method, meta=lambda d, p, s=source: [s])
        with pytest.raises(GridError, match=message):
            expand_grid(_with_method(registry, broken), ["meta-probe"], ["synthetic"], [60], [0])


def _with_method(registry: Registry, method: MethodInfo) -> Registry:
    patched = Registry([PLUGINS])
    patched.methods[method.id] = method
    return patched


def test_images_fall_back_from_miniimagenet_to_mnist_on_the_mirror(registry, monkeypatch, tmp_path):
    mirror = require_mirror("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("SUBSPACE_BENCH_MIRROR", str(mirror))
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path / "data-home"))
    candidates = [
        MetaSource("miniimagenet"),
        MetaSource("mnist", {"pool": "test"}, n_points=10000),
    ]
    method = dataclasses.replace(registry.method("meta-probe"), meta=lambda d, p: candidates)
    resolved = resolve_meta_source(registry, method, "fashion-mnist", {})
    assert resolved["dataset"] == "mnist" and resolved["params"]["pool"] == "test"
    assert resolved["n_points"] == 10000
