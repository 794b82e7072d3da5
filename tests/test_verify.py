"""``benchmark verify``: committed records rerun in fresh processes, metrics compared."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import verify_ledger
from benchmark.cli import main
from benchmark.provenance import SOURCE_DIRS, cpu_description, source_digest
from benchmark.store import Store
from benchmark.verify import (
    compare,
    recorded_threads,
    select_records,
    staggered,
    thread_variables,
    verify,
)

RUN = ["run", "--methods", "lrr,kmeans", "--datasets", "synthetic", "--sizes", "100"]


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """An output folder with two fresh ok records (LRR and k-means on synthetic data)."""
    out = tmp_path_factory.mktemp("committed")
    assert main([*RUN, "--seeds", "0", "--out", str(out)]) == 0
    records = Store(out).records()
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)
    return out


def _by_method(out):
    return {r["method"]: r for r in Store(out).records()}


def test_fresh_records_match_exactly_and_stay_untouched(committed, capsys):
    before = {p.name: p.read_bytes() for p in (committed / "records").iterdir()}
    assert all(recorded_threads(r) for r in Store(committed).records())
    assert main(["verify", "--out", str(committed)]) == 0
    out = capsys.readouterr().out
    assert out.count("matched ") == 2 and "exact at" in out and "2 matched" in out
    assert "acc" in out and " = " in out
    after = {p.name: p.read_bytes() for p in (committed / "records").iterdir()}
    assert after == before, "verify must never write over the committed records"


def test_tampered_metric_is_reported_with_both_values_and_fails(committed, tmp_path, capsys):
    shutil.copytree(committed / "records", tmp_path / "records")
    store = Store(tmp_path)
    records = _by_method(tmp_path)
    lrr = records["lrr"]
    true_acc = lrr["metrics"]["acc"]
    lrr["metrics"]["acc"] = round(true_acc - 0.25, 6)
    store.write_record(lrr)
    # an older record without a thread count is compared within the tolerance
    kmeans = records["kmeans"]
    del kmeans["provenance"]["threads"]
    kmeans["metrics"]["nmi"] -= 0.004
    store.write_record(kmeans)

    assert main(["verify", "--out", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    (differs,) = [line for line in lines if line.startswith("differs")]
    assert lrr["task_id"] in differs and "exact at" in differs
    assert f"acc {lrr['metrics']['acc']:.6f} -> {true_acc:.6f}" in differs
    (matched,) = [line for line in lines if line.startswith("matched")]
    assert kmeans["task_id"] in matched and "tolerance ±0.01" in matched
    assert "1 differs, 1 matched" in lines[-1]


def test_a_record_that_cannot_be_rerun_is_an_error_not_a_match(registry):
    record = {
        "task_id": "0" * 16, "method": "no-such-method", "dataset": "synthetic",
        "n_points": 100, "seed": 0, "variant": "", "params": {}, "dataset_params": {},
        "status": "ok", "metrics": {"acc": 1.0, "nmi": 1.0, "ari": 1.0},
    }  # fmt: skip
    (check,) = verify([record], registry)
    assert check.verdict == "error" and "no-such-method" in check.detail


def test_a_record_older_than_a_dataset_parameter_is_an_error_that_names_it(committed, registry):
    """A record made before its dataset gained a parameter cannot say what the parameter
    was: verify names it instead of failing inside the loader."""
    record = copy.deepcopy(_by_method(committed)["kmeans"])
    dropped = sorted(record["dataset_params"])[0]
    del record["dataset_params"][dropped]
    (check,) = verify([record], registry)
    assert check.verdict == "error" and "predates" in check.detail and dropped in check.detail


def test_sample_picks_the_cheapest_ok_records_deterministically():
    def rec(task_id, method, fit, status="ok"):
        return {"task_id": task_id, "method": method, "dataset": "bbc", "status": status,
                "seed": task_id, "fit_time_s": fit}  # fmt: skip

    records = [
        rec("d", "ssc", 5.0),
        rec("a", "lrr", 9.0),
        rec("b", "lrr", 1.0, "failed"),
        rec("c", "lrr", 2.0),
        rec("e", "lrr", None),
    ]
    assert [r["task_id"] for r in select_records(records, sample=2)] == ["c", "d"]
    assert [r["task_id"] for r in select_records(records, methods=["lrr"])] == ["c", "a", "e"]
    with pytest.raises(ValueError, match="--sample must be >= 1"):
        select_records(records, sample=0)


def test_hours_keep_the_cheapest_reruns_that_fit_counting_each_training_once():
    def rec(task_id, variant, seed, fit):
        return {"task_id": task_id, "method": "dscn-l2", "variant": variant, "dataset": "bbc",
                "n_points": 9, "seed": seed, "status": "ok", "fit_time_s": fit}  # fmt: skip

    records = [rec("a", "", 0, 1800.0), rec("b", "post", 0, 5.0), rec("c", "", 1, 2700.0)]
    chosen = select_records(records, hours=1.0)
    assert [r["task_id"] for r in chosen] == ["a", "b"], "seed 1 does not fit beside seed 0"
    assert len(select_records(records, hours=1.25)) == 3
    assert select_records(records, hours=0.1) == []
    # a readout left alone (its plain sibling matched before) still costs its training
    assert select_records(records, hours=0.4, skip={"a"}) == []
    assert [r["task_id"] for r in select_records(records, hours=0.6, skip={"a"})] == ["b"]
    with pytest.raises(ValueError, match="--hours must be > 0"):
        select_records(records, hours=0)


def test_select_records_keeps_only_the_requested_sizes():
    records = [
        {"task_id": t, "method": "lrr", "dataset": "fashion-mnist", "status": "ok",
         "seed": 0, "n_points": n, "fit_time_s": f}
        for t, n, f in (("small", 1000, 1.0), ("mid", 5000, 3.0), ("big", 10000, 9.0))
    ]  # fmt: skip
    assert [r["task_id"] for r in select_records(records, sizes=[10000])] == ["big"]
    assert [r["task_id"] for r in select_records(records, sizes=[5000, 10000], sample=1)] == ["mid"]
    assert len(select_records(records)) == 3


def test_a_readout_variant_costs_what_its_training_costs():
    """A 'post' record's own fit time is its readout's; its rerun trains again."""

    def rec(task_id, variant, fit):
        return {"task_id": task_id, "method": "dscn-l1", "variant": variant, "dataset": "bbc",
                "n_points": 2225, "seed": 0, "status": "ok", "fit_time_s": fit}  # fmt: skip

    records = [rec("plain", "", 50.0), rec("post", "post", 1.0)]
    records.append({**rec("other", "", 20.0), "seed": 1})
    assert [r["task_id"] for r in select_records(records, sample=1)] == ["other"]
    assert [r["task_id"] for r in select_records(records)] == ["other", "plain", "post"]


def test_parallel_reruns_never_start_two_readouts_of_one_training_together():
    """With two workers, A's and B's trainings run side by side, then their readouts."""

    def member(task_id, seed, variant=""):
        record = {"task_id": task_id, "method": "dasc", "dataset": "bbc", "n_points": 2225,
                  "seed": seed, "variant": variant}  # fmt: skip
        return record, task_id

    members = [member("a", 0), member("a-post", 0, "post"), member("b", 1),
               member("b-post", 1, "post"), member("c", 2)]  # fmt: skip
    assert [t for _, t in staggered(members, jobs=2)] == ["a", "b", "a-post", "b-post", "c"]
    assert [t for _, t in staggered(members, jobs=1)] == [t for _, t in members]
    assert [t for _, t in staggered(members, jobs=3)] == ["a", "b", "c", "a-post", "b-post"]


def test_a_rerun_stopped_from_outside_is_an_error_and_one_that_failed_differs():
    record = {"metrics": {"acc": 0.5, "nmi": 0.4, "ari": 0.3}}
    killed = {"status": "failed", "error": "worker process killed by SIGTERM; log x:\nstep 9"}
    assert compare(record, killed, True, 0.01) == (
        "error",
        "rerun failed: worker process killed by SIGTERM; log x:",
    )
    timeout = {"status": "timeout", "error": "killed after the time limit of 5 min"}
    assert compare(record, timeout, True, 0.01)[0] == "error"
    raised = {"status": "failed", "error": "Traceback ...\nValueError: shapes differ"}
    assert compare(record, raised, True, 0.01) == (
        "differs",
        "rerun failed: ValueError: shapes differ",
    )
    assert compare(record, {"status": "ok", "metrics": dict(record["metrics"])}, True, 0)[0] == (
        "matched"
    )


def test_verify_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "benchmark", "verify", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--sample K" in result.stdout


def test_keep_must_not_be_the_records_folder(committed, capsys):
    assert main(["verify", "--out", str(committed), "--keep", str(committed)]) == 2
    assert "--keep must not be the --out folder" in capsys.readouterr().err
    assert json.loads(next((committed / "records").iterdir()).read_text())["status"] == "ok"


def test_deep_reruns_train_again_unless_told_to_reuse_the_cached_trainings(
    registry, tmp_path, monkeypatch
):
    """A deep record rerun by verify must not read the trained C its own run left cached."""
    home = tmp_path / "home"
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(home))
    out = tmp_path / "out"
    command = ["run", "--methods", "dscn-l2", "--datasets", "synthetic", "--sizes", "60",
               "--seeds", "0", "--out", str(out), "--data-home", str(home)]  # fmt: skip
    for setting in ("pretrain_epochs=2", "finetune_epochs=2", "output_activation=linear"):
        command += ["--set", f"dscn-l2.{setting}"]
    assert main(command) == 0
    record = next(r for r in Store(out).records() if r["variant"] == "")
    assert record["status"] == "ok" and record["fit_info"]["coef_cached"] is False
    cached = sorted((home / "deep").rglob("*.pt"))
    assert cached, "the run caches its pretrained network and C"

    def rerun_fit_info(reuse: bool) -> dict:
        keep = tmp_path / f"keep-{reuse}"
        [check] = verify([record], registry, work_dir=keep, reuse_artifacts=reuse)
        assert check.verdict == "matched", check.line()
        return check.rerun["fit_info"]

    fresh = rerun_fit_info(reuse=False)
    assert fresh["coef_cached"] is False and fresh["pretrain_cached"] is False
    assert sorted((home / "deep").rglob("*.pt")) == cached, "reruns train in their own folder"
    assert list((tmp_path / "keep-False" / "artifacts").rglob("*.pt"))
    assert rerun_fit_info(reuse=True)["coef_cached"] is True


def test_reruns_get_the_thread_variables_the_record_ran_with():
    """OMP_NUM_THREADS=1 beside two BLAS threads (k-means' OpenMP sums split by thread,
    like BLAS's): the rerun gets the recorded value, not the BLAS count."""
    threads = {"blas": 2, "openmp": 1, "env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": None}}
    record = {"provenance": {"device": "cpu", "threads": threads}}
    assert thread_variables(record) == {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
    }
    assert thread_variables({"provenance": {"device": "cuda", "threads": threads}}) is None
    assert thread_variables({"provenance": {}}) is None


def test_the_ledger_keeps_each_verdict_and_a_resumed_verify_skips_the_matched(
    committed, tmp_path, capsys
):
    shutil.copytree(committed / "records", tmp_path / "records")
    assert main(["verify", "--out", str(tmp_path)]) == 0
    entries = verify_ledger.read(tmp_path)
    assert [e["verdict"] for e in entries] == ["matched", "matched"]
    for line in entries:  # the code is named by the sources the rerun loaded
        files = line["code_files"]
        assert f"methods/{line['method']}.py" in files and "benchmark/worker.py" in files
        assert "benchmark/cli.py" not in files and "benchmark/verify.py" not in files
        assert line["code_digest"] == source_digest(files)
    lrr = next(line for line in entries if line["method"] == "lrr")
    assert "methods/estimators/lrr.py" in lrr["code_files"], "the estimator loads late"
    assert all(e["rerun"] == e["recorded"] for e in entries)

    capsys.readouterr()
    assert main(["verify", "--out", str(tmp_path), "--unverified"]) == 0
    assert "no ok records to verify" in capsys.readouterr().err

    # a record made again (new content, same task id) needs its own check
    store = Store(tmp_path)
    lrr = _by_method(tmp_path)["lrr"]
    lrr["finished_at"] = "2099-01-01T00:00:00+00:00"
    store.write_record(lrr)
    assert main(["verify", "--out", str(tmp_path), "--coverage"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"\| kmeans\s+\|\s+1 \|\s+1 \|\s+0 \|\s+0 \|\s+0 \|\s+0 \|", table), table
    assert re.search(r"\| lrr\s+\|\s+1 \|\s+0 \|\s+0 \|\s+0 \|\s+0 \|\s+1 \|", table), table
    assert main(["verify", "--out", str(tmp_path), "--coverage", "--methods", "lrr"]) == 0
    table = capsys.readouterr().out  # the selection filters the table
    assert "kmeans" not in table
    assert re.search(r"\| total\s+\|\s+1 \|\s+0 \|", table), table
    assert main(["verify", "--out", str(tmp_path), "--unverified"]) == 0
    out = capsys.readouterr().out
    assert "verifying 1 records" in out and lrr["task_id"] in out
    assert len(verify_ledger.read(tmp_path)) == 3


def test_a_resumed_verify_skips_a_known_difference_on_this_cpu_and_names_it(
    committed, tmp_path, capsys
):
    shutil.copytree(committed / "records", tmp_path / "records")
    lrr = _by_method(tmp_path)["lrr"]
    lrr["metrics"]["acc"] = round(lrr["metrics"]["acc"] - 0.25, 6)
    Store(tmp_path).write_record(lrr)
    assert main(["verify", "--out", str(tmp_path), "--methods", "lrr", "--unverified"]) == 1
    (entry,) = verify_ledger.read(tmp_path)
    assert entry["verdict"] == "differs" and entry["rerun_cpu"] == cpu_description()

    capsys.readouterr()
    assert main(["verify", "--out", str(tmp_path), "--unverified"]) == 0
    out = capsys.readouterr().out
    assert "skipping 1 records whose last rerun" in out and lrr["task_id"] in out
    assert "verifying 1 records" in out, "only the k-means record is rerun"
    ran = [e["method"] for e in verify_ledger.read(tmp_path)]
    assert ran == ["lrr", "kmeans"]
    # on another kind of CPU, or with other kernels chosen, the difference is worth a rerun
    other = {"model": "another CPU", "vector": "avx512f"}
    entries = verify_ledger.read(tmp_path)
    assert verify_ledger.known_differences([lrr], entries, "unused", other) == set()
    here = cpu_description()
    assert verify_ledger.known_differences([lrr], entries, "unused", here) == {lrr["task_id"]}
    pinned = {"OPENBLAS_CORETYPE": "SandyBridge"}
    assert verify_ledger.known_differences([lrr], entries, "unused", here, pinned) == set()


def test_a_verdict_names_the_kernel_variables_its_rerun_ran_under(
    committed, tmp_path, capsys, monkeypatch
):
    """ATEN_CPU_CAPABILITY changes nothing for LRR and k-means, on any machine."""
    shutil.copytree(committed / "records", tmp_path / "records")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    assert main(["verify", "--out", str(tmp_path), "--methods", "lrr"]) == 0
    assert "kernels ATEN_CPU_CAPABILITY=default" in capsys.readouterr().out
    (entry,) = verify_ledger.read(tmp_path)
    assert entry["rerun_kernels"] == {"ATEN_CPU_CAPABILITY": "default"}


def test_record_states_tell_current_from_older_code_and_skip_a_torn_line(tmp_path):
    records = [
        {"task_id": t, "method": "lrr", "dataset": "synthetic", "n_points": 9, "seed": 0,
         "metrics": {"acc": 1.0}, "status": "ok"}
        for t in ("a", "b", "c", "d")
    ]  # fmt: skip
    for record, verdict, code in [
        (records[0], "matched", "old"),
        (records[0], "matched", "new"),
        (records[1], "matched", "old"),
        (records[2], "matched", "new"),
        (records[2], "differs", "newer"),  # a later difference under other code
    ]:
        line = verify_ledger.entry(record, verdict, "exact", {}, code, None)
        verify_ledger.append(tmp_path, line)
    with verify_ledger.ledger_path(tmp_path).open("a") as ledger:
        ledger.write('{"task_id": "d", "record_dig')  # killed mid-write
    entries = verify_ledger.read(tmp_path)
    assert len(entries) == 5
    assert verify_ledger.record_states(records, entries, "new") == {
        "a": "matched", "b": "matched-older-code", "c": "matched", "d": "not-verified"
    }  # fmt: skip
    assert verify_ledger.record_states(records, entries, "newer")["c"] == "differs"
    states = verify_ledger.record_states(records, entries, "new")
    total = verify_ledger.coverage(records, states)[-1]
    assert total["records"] == 4 and total["matched"] == 2 and total["not-verified"] == 1


def test_an_entry_appended_after_a_torn_line_survives_and_the_torn_line_is_named(tmp_path):
    record = {"task_id": "a", "method": "lrr", "dataset": "synthetic", "n_points": 9,
              "seed": 0, "metrics": {"acc": 1.0}, "status": "ok"}  # fmt: skip
    path = verify_ledger.ledger_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"task_id": "d", "record_dig')  # killed mid-write
    verify_ledger.append(tmp_path, verify_ledger.entry(record, "matched", "exact", {}, "c", None))
    with pytest.warns(UserWarning, match="line 1, is not a ledger entry"):
        entries = verify_ledger.read(tmp_path)
    assert [e["task_id"] for e in entries] == ["a"]


def test_the_code_digest_follows_the_runtime_sources(tmp_path):
    for folder in SOURCE_DIRS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.py").write_text("x = 1\n")
    before = verify_ledger.code_digest(tmp_path)
    (tmp_path / "methods" / "a.py").write_text("x = 2\n")
    assert verify_ledger.code_digest(tmp_path) != before
    (tmp_path / "methods" / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.md").write_text("not code")
    assert verify_ledger.code_digest(tmp_path) == before


def test_a_match_stays_current_while_the_sources_its_rerun_loaded_are_unchanged(tmp_path):
    for folder in SOURCE_DIRS:
        (tmp_path / folder).mkdir()
    for name in ("methods/lrr.py", "benchmark/worker.py", "benchmark/cli.py"):
        (tmp_path / name).write_text("x = 1\n")
    loaded = ["benchmark/worker.py", "methods/lrr.py"]
    record = {"task_id": "a", "method": "lrr", "dataset": "synthetic", "n_points": 9,
              "seed": 0, "metrics": {"acc": 1.0}, "status": "ok", "fit_time_s": 7200.0}  # fmt: skip
    line = verify_ledger.entry(
        record, "matched", "exact", {}, source_digest(loaded, tmp_path), None, loaded
    )

    def state():
        return verify_ledger.record_states([record], [line], "any", tmp_path)["a"]

    assert state() == "matched"
    (tmp_path / "benchmark" / "cli.py").write_text("x = 2\n")  # not loaded by the rerun
    assert state() == "matched"
    (tmp_path / "methods" / "lrr.py").write_text("x = 2\n")
    assert state() == "matched-older-code"
    (tmp_path / "methods" / "lrr.py").unlink()
    assert state() == "matched-older-code"
    states = verify_ledger.record_states([record], [line], "any", tmp_path)
    rows = verify_ledger.coverage([record], states)
    assert rows[-1]["matched-older-code"] == 1 and rows[-1]["rerun_h"] == 2.0


def test_rerun_hours_count_each_training_once():
    records = [
        {"task_id": t, "method": "dscn-l1", "variant": v, "dataset": "bbc", "n_points": 9,
         "seed": seed, "metrics": {"acc": 1.0}, "status": "ok", "fit_time_s": fit}
        for t, v, seed, fit in [("a", "", 0, 3600.0), ("b", "post", 0, 60.0), ("c", "", 1, 1800.0)]
    ]  # fmt: skip
    matched_c = verify_ledger.entry(records[2], "matched", "exact", {}, "now", None)
    rows = verify_ledger.coverage(records, verify_ledger.record_states(records, [matched_c], "now"))
    assert rows[0]["rerun_h"] == 1.0, "seed 0's two readouts share one training of an hour"
    assert rows[0]["matched"] == 1 and rows[0]["not-verified"] == 2


def test_each_verdict_is_reported_when_its_own_rerun_ends(committed, registry, tmp_path):
    """A verification of hours must not hold every verdict until the last rerun: a kill
    would lose them all (the ledger is written from these reports)."""
    records = Store(committed).records()
    keep = tmp_path / "keep"
    seen: list[tuple[str, list[str]]] = []

    def report(check):
        others = [r["task_id"] for r in records if r["task_id"] != check.record["task_id"]]
        seen.append((check.verdict, [t for t in others if Store(keep).read_record(t)]))

    verify(records, registry, work_dir=keep, report=report)
    assert [verdict for verdict, _ in seen] == ["matched", "matched"]
    assert seen[0][1] == [], "the first verdict came after the other rerun had finished"
    assert len(seen[1][1]) == 1


def test_a_record_from_another_kind_of_cpu_is_compared_within_the_tolerance(
    committed, tmp_path, capsys
):
    shutil.copytree(committed / "records", tmp_path / "records")
    store = Store(tmp_path)
    records = _by_method(tmp_path)
    assert records["lrr"]["provenance"]["cpu"]["model"]
    lrr = records["lrr"]
    lrr["provenance"]["cpu"] = {"model": "Some Other CPU (family 99)", "vector": "avx512f"}
    lrr["metrics"]["nmi"] -= 0.004
    store.write_record(lrr)
    # a record that names no CPU (older) stays exact, and its difference says so
    kmeans = records["kmeans"]
    del kmeans["provenance"]["cpu"]
    kmeans["metrics"]["acc"] -= 0.004
    assert len(kmeans["input_digest"]) == 16
    kmeans["input_digest"] = "0" * 16
    kmeans["provenance"]["platform"] = "Linux-6.1-another-machine"
    store.write_record(kmeans)

    assert main(["verify", "--out", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    (matched,) = [line for line in lines if line.startswith("matched")]
    assert lrr["task_id"] in matched and "tolerance ±0.01" in matched
    assert "recorded on Some Other CPU (family 99) [avx512f], rerun on" in matched
    (differs,) = [line for line in lines if line.startswith("differs")]
    assert kmeans["task_id"] in differs and "exact at" in differs
    assert "names no CPU" in differs
    assert "(it ran on Linux-6.1-another-machine, the rerun on Linux-" in differs
    assert f"its input differs from the record's (digest {'0' * 16} -> " in differs


def test_the_cpu_is_read_with_its_generation_and_widest_vector_extension(tmp_path):
    from benchmark.provenance import cpu_description

    x86 = tmp_path / "x86"
    x86.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 avx512f\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu\n"
    )
    assert cpu_description(x86) == {
        "model": "AMD EPYC (AuthenticAMD family 25 model 17)",
        "vector": "avx512f",
    }
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm\nCPU part\t: 0xd0c\n")
    assert cpu_description(arm)["vector"] == "asimd"
    assert cpu_description(tmp_path / "missing")["vector"] is None


def test_adopt_puts_the_judged_reruns_in_place_and_names_the_second_rerun(
    committed, tmp_path, capsys
):
    out, keep = tmp_path / "out", tmp_path / "keep"
    shutil.copytree(committed / "records", out / "records")
    store = Store(out)
    lrr = _by_method(out)["lrr"]
    true_metrics = dict(lrr["metrics"])
    lrr["metrics"]["acc"] = round(true_metrics["acc"] - 0.25, 6)  # made elsewhere, say
    store.write_record(lrr)
    stale = out / "figure-data" / f"{lrr['task_id']}.npz"
    stale.parent.mkdir()
    stale.write_bytes(b"old figure data")
    assert main(["verify", "--out", str(out), "--keep", str(keep)]) == 1
    capsys.readouterr()

    assert main(["verify", "--out", str(out), "--adopt", str(keep)]) == 0
    printed = capsys.readouterr().out
    assert f"adopted   {lrr['task_id']}" in printed and "unchanged" in printed
    assert "1 adopted, 1 unchanged" in printed
    assert f"--tasks {lrr['task_id']}" in printed
    adopted = store.read_record(lrr["task_id"])
    assert adopted["metrics"] == true_metrics
    assert adopted["log_path"] == str(Store(out.resolve()).log_path(lrr["task_id"]))
    assert (
        Path(adopted["log_path"]).read_bytes()
        == (keep / "logs" / f"{lrr['task_id']}.log").read_bytes()
    )
    assert not stale.exists(), "the old record's figure data must not outlive it"

    assert main(["verify", "--out", str(out), "--tasks", lrr["task_id"]]) == 0
    printed = capsys.readouterr().out
    assert "verifying 1 records" in printed and "1 matched" in printed


def test_adopt_refuses_a_rerun_the_ledger_did_not_judge_or_of_another_task(
    committed, tmp_path, capsys
):
    out, keep = tmp_path / "out", tmp_path / "keep"
    shutil.copytree(committed / "records", out / "records")
    shutil.copytree(committed / "records", keep / "records")
    before = {p.name: p.read_bytes() for p in (out / "records").iterdir()}
    kept = Store(keep)
    records = _by_method(keep)
    records["lrr"]["metrics"]["acc"] -= 0.1  # no verdict in the ledger gave these
    kept.write_record(records["lrr"])
    records["kmeans"]["params"] = {**records["kmeans"]["params"], "n_init": 99}
    records["kmeans"]["metrics"]["acc"] -= 0.1
    kept.write_record(records["kmeans"])

    assert main(["verify", "--out", str(out), "--adopt", str(keep)]) == 1
    printed = capsys.readouterr().out
    assert "2 refused" in printed
    assert "no 'differs' verdict" in printed and "params differ" in printed
    after = {p.name: p.read_bytes() for p in (out / "records").iterdir()}
    assert after == before

    assert main(["verify", "--out", str(out), "--adopt", str(tmp_path / "empty")]) == 2
    assert "verify --keep folder" in capsys.readouterr().err
