"""The local executor and resume logic, through the real CLI in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmark.cli import main
from benchmark.runner import failure_reason
from benchmark.store import Store
from benchmark.tasks import GridError, expand_grid, parse_overrides

from .conftest import FIXTURE_PLUGINS

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmark", *args, "--plugins", str(FIXTURE_PLUGINS)]


def records_by_id(out: Path) -> dict[str, dict]:
    return {r["task_id"]: r for r in Store(out).records()}


def test_failures_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    out = tmp_path / "out"
    code = main([
        "run", "--methods", "faulty", "--datasets", "synthetic", "--seeds", "0",
        "--set", "faulty.mode='ok','raise','sleep','kill','nan'", "--timeout-min", "0.5",
        "--jobs", "2", "--out", str(out), "--plugins", str(FIXTURE_PLUGINS),
    ])  # fmt: skip
    assert code == 1  # some tasks did not succeed
    # after the progress display, each failure with its reason, not just "failed"
    err = capsys.readouterr().err
    shown = err[err.index("4 task(s) did not succeed:") :]
    assert "RuntimeError: faulty method raised on purpose" in shown
    assert "killed after the time limit of 0.5 min" in shown
    assert "worker process killed by SIGKILL" in shown
    assert "(diverged):" in shown and "non-finite coefficients or objective" in shown
    assert shown.count("log: ") == 4
    by_mode = {r["params"]["mode"]: r for r in Store(out).records()}
    assert set(by_mode) == {"ok", "raise", "sleep", "kill", "nan"}
    assert by_mode["ok"]["status"] == "ok" and by_mode["ok"]["metrics"]["acc"] > 0
    assert by_mode["raise"]["status"] == "failed"
    assert "faulty method raised on purpose" in by_mode["raise"]["error"]
    assert by_mode["sleep"]["status"] == "timeout"
    assert by_mode["kill"]["status"] == "failed" and "SIGKILL" in by_mode["kill"]["error"]
    assert by_mode["nan"]["status"] == "diverged" and by_mode["nan"]["metrics"] is None
    for record in by_mode.values():
        assert record["peak_mem_mb"] > 10  # measured per child process
        assert record["schema_version"] == 1 and record["log_path"]
    assert by_mode["ok"]["provenance"]["python"]
    assert not Store(out).running()  # no marker left behind


def test_tasks_failing_alike_show_their_reason_once(tmp_path, capsys):
    code = main(["run", "--methods", "faulty", "--datasets", "synthetic", "--seeds", "0,1,2",
                 "--set", "faulty.mode=raise", "--executor", "debug", "--out", str(tmp_path),
                 "--plugins", str(FIXTURE_PLUGINS)])  # fmt: skip
    assert code == 1
    shown = capsys.readouterr().err.split("3 task(s) did not succeed:")[1]
    assert "- 3 tasks (failed), each with:" in shown
    assert shown.count("faulty method raised on purpose") == 1
    assert all(f"faulty/synthetic/n=300/seed={seed}  log: " in shown for seed in (0, 1, 2))


def test_memory_cap_kills_only_the_offending_task(tmp_path):
    out = tmp_path / "out"
    main([
        "run", "--methods", "faulty", "--datasets", "synthetic", "--seeds", "0",
        "--set", "faulty.mode='ok','alloc'", "--mem-limit-gb", "1.5",
        "--out", str(out), "--plugins", str(FIXTURE_PLUGINS),
    ])  # fmt: skip
    by_mode = {r["params"]["mode"]: r for r in Store(out).records()}
    assert by_mode["ok"]["status"] == "ok"
    assert by_mode["alloc"]["status"] == "failed" and "MemoryError" in by_mode["alloc"]["error"]


def test_memory_budget_refuses_a_task_before_it_runs(tmp_path):
    out = tmp_path / "out"
    main([
        "run", "--methods", "huge", "--datasets", "synthetic", "--seeds", "0",
        "--out", str(out), "--plugins", str(FIXTURE_PLUGINS), "--mem-budget-gb", "4",
    ])  # fmt: skip
    (record,) = Store(out).records()
    assert record["status"] == "failed"
    assert "over the memory budget" in record["error"] and "--mem-budget-gb" in record["error"]


def test_sigkill_of_the_driver_then_rerun_runs_only_missing_tasks(tmp_path):
    out = tmp_path / "out"
    args = cli(
        "run",
        "--methods",
        "faulty",
        "--datasets",
        "synthetic",
        "--seeds",
        "0,1,2,3,4,5",
        "--set",
        "faulty.sleep_s=1.0",
        "--out",
        str(out),
    )
    driver = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(Store(out).records()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    markers = list((out / "running").glob("*.json"))
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = records_by_id(out)
    assert 2 <= len(before) < 6
    # the running worker dies with its driver: no orphan keeps computing
    time.sleep(1.0)
    for marker in markers:
        try:
            pid = json.loads(marker.read_text())["pid"]
        except (OSError, ValueError):
            continue
        if psutil.pid_exists(pid):
            assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    subprocess.run(args, cwd=REPO, check=True, capture_output=True)
    after = records_by_id(out)
    assert len(after) == 6 and all(r["status"] == "ok" for r in after.values())
    for task_id, record in before.items():  # finished records kept, not recomputed
        assert after[task_id]["attempt_id"] == record["attempt_id"]
    assert len(list((out / "records").iterdir())) == 6  # no duplicate or stray file


def test_rerun_skips_done_and_retries_failed_only_when_asked(tmp_path, capsys):
    out = tmp_path / "out"
    base = ["run", "--methods", "faulty", "--datasets", "synthetic", "--seeds", "0",
            "--set", "faulty.mode='ok','raise'", "--out", str(out),
            "--plugins", str(FIXTURE_PLUGINS)]  # fmt: skip
    assert main(base) == 1
    first = records_by_id(out)
    assert main(base) == 1  # the grid still holds a failure, shown as recorded earlier
    assert records_by_id(out) == first  # nothing rerun
    assert "(failed, recorded earlier)" in capsys.readouterr().err
    main([*base, "--retry-failed"])
    again = records_by_id(out)
    for task_id, record in first.items():
        rerun = again[task_id]["attempt_id"] != record["attempt_id"]
        assert rerun == (record["status"] == "failed")


def test_a_task_that_lacked_its_data_runs_again_without_retry_failed(tmp_path):
    out = tmp_path / "out"
    base = ["run", "--methods", "faulty", "--datasets", "synthetic", "--seeds", "0",
            "--set", "faulty.mode='nodata','raise'", "--executor", "debug", "--out", str(out),
            "--plugins", str(FIXTURE_PLUGINS)]  # fmt: skip
    assert main(base) == 1
    first = records_by_id(out)
    main(base)
    again = records_by_id(out)
    for task_id, record in first.items():
        rerun = again[task_id]["attempt_id"] != record["attempt_id"]
        assert rerun == (record["params"]["mode"] == "nodata")


def test_a_changed_parameter_is_a_new_task(registry):
    a = expand_grid(registry, ["faulty"], ["synthetic"], None, [0], parse_overrides([]))
    b = expand_grid(
        registry, ["faulty"], ["synthetic"], None, [0], parse_overrides(["faulty.sleep_s=0.5"])
    )
    c = expand_grid(
        registry, ["faulty"], ["synthetic"], None, [0], parse_overrides(["synthetic.noise=0.1"])
    )
    ids = {a[0].task_id, b[0].task_id, c[0].task_id}
    assert len(ids) == 3
    assert a[0].task_id == expand_grid(registry, ["faulty"], ["synthetic"], None, [0])[0].task_id


def test_set_with_several_values_makes_a_grid(registry):
    tasks = expand_grid(
        registry, ["faulty"], ["synthetic"], [100, 200], [0, 1],
        parse_overrides(["faulty.sleep_s=0,0.1,0.2"]),
    )  # fmt: skip
    assert len(tasks) == 2 * 2 * 3 and len({t.task_id for t in tasks}) == 12


@pytest.mark.parametrize(
    ("flag", "value", "listed"),
    [("--methods", "nope", "faulty"), ("--datasets", "nope", "synthetic")],
)
def test_unknown_ids_exit_2_and_list_the_known_ones(tmp_path, flag, value, listed):
    args = cli("run", "--methods", "faulty", "--datasets", "synthetic", "--out", str(tmp_path))
    args[args.index(flag) + 1] = value
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert f"unknown {flag[2:-1]} 'nope'" in result.stderr and listed in result.stderr


def test_unknown_parameter_and_bad_size_are_usage_errors(tmp_path, capsys):
    common = ["--out", str(tmp_path), "--plugins", str(FIXTURE_PLUGINS)]
    assert main(["run", "--methods", "faulty", "--datasets", "synthetic",
                 "--set", "faulty.nope=1", *common]) == 2  # fmt: skip
    assert "Its parameters are: mode, sleep_s" in capsys.readouterr().err


def test_dry_run_lists_tasks_with_memory_and_runs_nothing(tmp_path, capsys):
    assert main(["run", "--methods", "faulty", "--datasets", "synthetic", "--dry-run",
                 "--out", str(tmp_path), "--plugins", str(FIXTURE_PLUGINS)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "est. GiB" in text and "3 tasks" in text
    assert not (tmp_path / "records").exists()


def test_debug_executor_runs_in_process(tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--methods", "faulty", "--datasets", "synthetic", "--seeds", "0",
                 "--executor", "debug", "--out", str(out),
                 "--plugins", str(FIXTURE_PLUGINS)]) == 0  # fmt: skip
    (record,) = Store(out).records()
    assert record["status"] == "ok" and record["provenance"]["host"]
    assert os.getpid()  # ran here: no child process involved
    load = record["machine_load"]  # how busy the machine was while the task ran
    assert load["cpus"] == os.cpu_count() and load["start"] >= 0 and load["end"] >= 0
    assert load["max"] >= max(load["start"], load["end"])


def test_a_task_finished_by_another_driver_after_planning_is_not_rerun(registry, tmp_path):
    from benchmark.executors.local import LocalExecutor

    (task,) = expand_grid(registry, ["faulty"], ["synthetic"], None, [0])
    store = Store(tmp_path)
    done_elsewhere = {"task_id": task.task_id, "status": "ok", "attempt_id": "other-driver"}
    store.write_record(done_elsewhere)
    assert LocalExecutor(progress=False).run([task], store) == []
    assert store.read_record(task.task_id)["attempt_id"] == "other-driver"


MISSING_DATA_PLUGIN = """
from benchmark.data.checks import MissingDataError
from benchmark.data.sources import UpstreamFile, missing_message
from benchmark.plugins import DatasetInfo


def load(n_points, seed):
    raise MissingDataError(missing_message(UpstreamFile("absent", "absent.bin", urls=("u",))))


DATASET = DatasetInfo(id="absent", name="Absent", load=load, default_sizes=(100,))
"""


def test_a_failure_shows_its_fix_in_run_and_its_whole_message_in_status(tmp_path, capsys):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "absent.py").write_text(MISSING_DATA_PLUGIN)
    out = str(tmp_path / "out")
    common = ["--out", out, "--plugins", str(plugins), "--plugins", str(FIXTURE_PLUGINS)]
    run = ["run", "--methods", "faulty", "--datasets", "absent", "--seeds", "0"]
    assert main([*run, "--executor", "debug", *common]) == 1
    fix = "Fix: run `python -m benchmark fetch --datasets absent` on a machine with internet"
    err = capsys.readouterr().err
    assert "faulty/absent/n=100/seed=0 (failed):" in err
    assert "MissingDataError: dataset file absent/absent.bin not found" in err and fix in err
    assert main(["status", *common]) == 0
    shown = capsys.readouterr().out
    whole = shown[shown.index("whole messages") :]
    assert fix in whole and "(the data home is set by" in whole and "log: " in whole


def test_failure_reason_keeps_the_final_exception_whole():
    chained = (
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in f\n    g()\n    ^^^\n'
        "KeyError: 'x'\n\nThe above exception was the direct cause of the following "
        "exception:\n\nTraceback (most recent call last):\n"
        '  File "b.py", line 2, in h\n    raise ValueError(msg)\n'
        "ValueError: bad input.\nFix: pass --sizes 100.\n"
    )
    assert failure_reason(chained) == "ValueError: bad input.\nFix: pass --sizes 100."
    crash = (
        "worker process exited with status 1 without a record; log x.log:\n=== attempt 1\n"
        'Traceback (most recent call last):\n  File "w.py", line 3, in <module>\n'
        "    import foo\nModuleNotFoundError: No module named 'foo'"
    )
    assert failure_reason(crash) == (
        "worker process exited with status 1 without a record; log x.log:\n"
        "ModuleNotFoundError: No module named 'foo'"
    )
    assert failure_reason("killed after the time limit of 1 min") == (
        "killed after the time limit of 1 min"
    )
    assert failure_reason(None) == "(no error recorded)"


def test_variants_keep_only_the_named_ones_and_unknown_names_are_listed(registry):
    def variants(names):
        tasks = expand_grid(registry, ["lrsc-l2", "kmeans"], ["synthetic"], [100], [0],
                            variants=names)  # fmt: skip
        return sorted((t.method, t.variant) for t in tasks)

    every = variants(None)
    assert ("lrsc-l2", "ablation-none") in every and ("lrsc-l2", "post") in every
    assert variants(["plain"]) == [("kmeans", ""), ("lrsc-l2", "")]
    assert variants(["post"]) == [("lrsc-l2", "post")]
    with pytest.raises(GridError, match="unknown variant 'pots'.*Did you mean 'post'"):
        variants(["pots"])
