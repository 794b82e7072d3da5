"""``python -m benchmark cache list|prune`` on a temporary data home with fabricated entries."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.atomic import file_lock
from benchmark.cache_inventory import scan
from benchmark.cli import main
from benchmark.data.cache import cached_arrays
from benchmark.data.home import MAKER_ENV
from benchmark.deep.artifact_cache import CODE_VERSIONS, ArtifactCache

DAY = 86400.0


def _age(path: Path, days: float) -> None:
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A data home holding one entry of each state the tool must tell apart."""
    root = tmp_path / "home"
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(root))
    monkeypatch.setenv(MAKER_ENV, "kmeans/bbc/n=2225/seed=0")
    # current entries, made by the code itself
    cached_arrays("bbc", {"sha256": "abc"}, lambda: {"X": np.ones((4, 3), np.float32)})
    ArtifactCache("pretrained").store({"data": "d1", "seed": 0}, {"w": torch.zeros(3)})
    legacy = ArtifactCache("coefficients")  # made before sidecars existed
    legacy.store({"data": "d1", "finetuning": {}}, {"coef": torch.zeros(2, 2)})
    ArtifactCache.sidecar(legacy.path({"data": "d1", "finetuning": {}})).unlink()
    old = ArtifactCache("coefficients").path({"data": "d2"})
    old.parent.mkdir(parents=True, exist_ok=True)
    # an older cache format: the file name is not the digest of its key any more
    old_name = old.with_name("0" * 32 + ".pt")
    torch.save({"key": {"data": "d2"}, "value": {}}, old_name)
    _age(old_name, 40)
    # older training code: a teacher whose code_version is no longer current
    ArtifactCache("teachers").store({"code_version": "teacher-0", "seed": 1}, {"states": []})
    current_teacher = {"code_version": CODE_VERSIONS["teachers"], "seed": 1}
    ArtifactCache("teachers").store(current_teacher, {"states": []})
    # an older feature format and an incomplete feature entry
    key = {"sha256": "abc", "n_components": 8}
    digest = hashlib.sha256(json.dumps({"format": 0, **key}, sort_keys=True).encode()).hexdigest()[
        :32
    ]
    stale_features = root / "features" / "bbc" / digest
    stale_features.mkdir(parents=True)
    (stale_features / "manifest.json").write_text(json.dumps({"key": key, "arrays": []}))
    (root / "features" / "notmnist" / ("f" * 32)).mkdir(parents=True)
    # temporaries: one left by a killed writer, one being written right now
    killed = old.with_name(".tmp-" + "1" * 32 + ".pt.abcd")
    killed.write_bytes(b"x" * 10)
    _age(killed, 2)
    old.with_name(".tmp-" + "2" * 32 + ".pt.efgh").write_bytes(b"y")
    # a fetched upstream file
    (root / "bbc").mkdir()
    (root / "bbc" / "bbc-fulltext.zip").write_bytes(b"z" * 100)
    return root


def _states(root: Path) -> dict[tuple[str, str], str | None]:
    return {(e.kind, e.name): e.stale for e in scan(root)}


def test_scan_tells_current_from_stale_entries(home):
    states = _states(home)
    stale = {name: reason for name, reason in states.items() if reason}
    assert {kind for kind, _ in stale} == {"features", "coefficients", "teachers"}
    assert len(stale) == 5
    reasons = " | ".join(sorted(stale.values()))
    for why in ("older cache format", "code_version teacher-0", "incomplete", "interrupted"):
        assert why in reasons
    current = [name for name, reason in states.items() if reason is None]
    assert len(current) == 6  # bbc features, pretrained, legacy C, teacher, fresh tmp, raw
    assert ("raw", "bbc/bbc-fulltext.zip") in current


def test_list_shows_kinds_with_counts_and_sizes_and_verbose_each_entry(home, capsys):
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert f"data home: {home}" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:]}
    assert rows["coefficients"][1:2] == ["4"] and rows["teachers"][1:2] == ["2"]
    assert rows["raw"][1:4] == ["1", "100", "B"]
    assert rows["total"][1:2] == ["11"]
    assert main(["cache", "list", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "kmeans/bbc/n=2225/seed=0" in out  # what made the entries made here
    assert "stale: made by older training code (code_version teacher-0)" in out
    assert "40.0 d" in out  # the age of the entry of an older format


def test_prune_removes_only_stale_entries_and_dry_run_nothing(home, capsys):
    before = _states(home)
    assert main(["cache", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("would remove:") == 5 and _states(home) == before
    assert main(["cache", "prune"]) == 0
    assert capsys.readouterr().out.count("removed:") == 5
    after = _states(home)
    assert set(after) == {name for name, reason in before.items() if reason is None}
    assert all(reason is None for reason in after.values())
    assert not ArtifactCache("teachers").path({"code_version": "teacher-0", "seed": 1}).exists()
    assert main(["cache", "prune"]) == 0
    assert "removed 0 of 6 entries" in capsys.readouterr().out


def test_prune_by_kind_or_age_and_raw_only_when_named(home, capsys):
    assert main(["cache", "prune", "--kind", "coefficients"]) == 0
    kinds = [kind for kind, _ in _states(home)]
    assert "coefficients" not in kinds and "teachers" in kinds and "raw" in kinds
    assert main(["cache", "prune", "--older-than", "1"]) == 0
    left = _states(home)
    assert all(reason is None for reason in left.values())  # stale ones went too
    assert ("raw", "bbc/bbc-fulltext.zip") in left
    assert main(["cache", "prune", "--older-than", "0", "--kind", "raw"]) == 0
    assert "raw" not in {kind for kind, _ in _states(home)}
    capsys.readouterr()


def test_an_entry_being_built_is_never_removed(home, capsys):
    teacher = ArtifactCache("teachers")
    path = teacher.path({"code_version": "teacher-0", "seed": 1})
    with file_lock(teacher.lock_file(path)):  # a task building this very entry
        assert main(["cache", "list", "--verbose"]) == 0
        assert "in use (being built)" in capsys.readouterr().out
        assert main(["cache", "prune", "--kind", "teachers"]) == 0
        out = capsys.readouterr().out
    assert "kept (in use, being built): teachers" in out and "1 in use kept" in out
    assert path.exists() and ArtifactCache.sidecar(path).exists()


def test_bad_arguments_say_what_to_write(home, capsys):
    with pytest.raises(SystemExit):
        main(["cache", "prune", "--kind", "coefficient"])
    assert "choose from features, pretrained, coefficients" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cache", "prune", "--older-than", "-2"])
    assert "expected a number of days >= 0" in capsys.readouterr().err


def test_an_empty_data_home_lists_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path / "none"))
    assert main(["cache", "list"]) == 0
    assert "total" in capsys.readouterr().out
