"""The SLURM executor: settings and queue logic here, then real array jobs on a real cluster.

Tests marked ``slurm`` need a running cluster (``slurm/ci/slurm-up.sh`` starts one on this
machine; ``slurm/ci/with-slurm.sh`` starts it, runs them and stops it). Without
``sbatch`` they skip, unless ``SUBSPACE_BENCH_REQUIRE_SLURM=1``, which makes that a failure.
They submit with the profile ``slurm/localhost.toml`` (partition ``debug``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.executors.slurm import (
    SlurmExecutor,
    SlurmSetupError,
    SlurmTask,
    Submitted,
    default_mem_gb,
    looks_timed_out,
    resolve_settings,
    sbatch_parameters,
)
from benchmark.registry import Registry
from benchmark.slurm_queue import active_jobs, parse_squeue
from benchmark.store import Store, marker_is_alive
from benchmark.tasks import Task, expand_grid, parse_overrides
from benchmark.worker import base_record

REPO = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).parent / "plugins"
PROFILE = "localhost"
CLASSICAL = ("ssc", "ensc", "ssc-omp", "lrr")
"""The classical methods: deterministic, compared between SLURM and local runs."""


def probe_tasks(*overrides: str, seeds: tuple[int, ...] = (0,)) -> list[Task]:
    registry = Registry([PLUGINS])
    return expand_grid(
        registry, ["probe"], ["synthetic"], [100], list(seeds), parse_overrides(list(overrides))
    )


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmark", *args]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False, **kwargs
    )


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.3)


# -- settings, profiles and queue logic (no cluster needed) -------------------------------------


def test_settings_precedence_command_line_then_timeout_then_profile(tmp_path):
    profile = tmp_path / "site.toml"
    profile.write_text('partition = "cpu"\ntime_min = 90\nmem_gb = 3\n[sbatch]\nconstraint = "x"\n')
    settings = resolve_settings(str(profile), {"mem_gb": 5, "partition": None})
    assert (settings.partition, settings.time_min, settings.mem_gb) == ("cpu", 90, 5)
    assert resolve_settings(str(profile), {}, timeout_min=10).time_min == 20  # 1.5 x 10 + 5
    assert resolve_settings(str(profile), {"time_min": 7}, timeout_min=10).time_min == 7
    params = sbatch_parameters(settings, mem_gb=5)
    assert params["partition"] == "cpu" and params["mem"] == "5120MB" and params["time"] == 90
    assert params["additional_parameters"] == {"constraint": "x"}
    assert any("OMP_NUM_THREADS" in line for line in params["setup"])
    gpu = resolve_settings(str(profile), {"gpus_per_task": 1, "cpus_per_task": 8})
    assert sbatch_parameters(gpu, mem_gb=5)["gpus_per_task"] == 1


def test_every_shipped_profile_loads():
    for name in ("default", "localhost", "gpu-example"):
        settings = resolve_settings(name, {})
        assert settings.cpus_per_task >= 1 and settings.time_min > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("partiton = 'cpu'\n", "unknown key 'partiton'"),
        ("mem_gb = 'lots'\n", "mem_gb must be a int or float"),
        ("cpus_per_task = 0\n", "cpus_per_task must be positive"),
        ("partition = \n", "not valid TOML"),
    ],
)
def test_bad_profiles_say_what_is_wrong(tmp_path, text, message):
    profile = tmp_path / "bad.toml"
    profile.write_text(text)
    with pytest.raises(SlurmSetupError, match=message):
        resolve_settings(str(profile), {})


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(SlurmSetupError, match="available: .*localhost"):
        resolve_settings("no-such-cluster", {})


def test_default_memory_comes_from_the_largest_estimate():
    tasks = probe_tasks()
    small = default_mem_gb(tasks)
    big = tasks[0].__class__(**{**tasks[0].to_dict(), "memory_estimate_mb": 10 * 1024})
    assert small >= 1 and default_mem_gb([*tasks, big]) >= 1.25 * 10


def test_squeue_output_is_read_per_array_task():
    text = "12_0|RUNNING\n12_1|PENDING\n12_2|COMPLETED\n13|CANCELLED by 0\n14|REQUEUED\n"
    assert parse_squeue(text) == {"12_0", "12_1", "14"}


def fake_squeue(tmp_path: Path, script: str) -> dict[str, str]:
    """An environment whose PATH finds a fake ``squeue`` running ``script``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text("#!/bin/sh\n" + script)
    (bin_dir / "squeue").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_active_jobs_asks_squeue_once_and_knows_forgotten_and_unreachable(tmp_path, monkeypatch):
    env = fake_squeue(tmp_path, 'echo "$@" >> "$(dirname "$0")/calls"; echo "7_1|PENDING"\n')
    monkeypatch.setenv("PATH", env["PATH"])
    assert active_jobs(["7_0", "7_1", "8"]) == {"7_1"}
    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert len(calls) == 1 and calls[0].endswith("--jobs 7,8")
    (tmp_path / "bin" / "squeue").write_text(
        "#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n"
    )
    assert active_jobs(["7_0"]) == set()  # finished long ago
    (tmp_path / "bin" / "squeue").write_text("#!/bin/sh\necho 'controller down' >&2; exit 1\n")
    assert active_jobs(["7_0"]) is None
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert active_jobs(["7_0"]) is None


def test_queued_marker_lives_while_slurm_lists_its_job():
    queued = {"state": "queued", "slurm_job_id": "5_2", "heartbeat": 0.0, "pid": 1}
    assert marker_is_alive(queued, active_slurm_jobs={"5_2"})
    assert not marker_is_alive(queued, active_slurm_jobs={"5_1"})
    assert marker_is_alive(queued, active_slurm_jobs=None)  # cannot ask: may still run


def status_rows(text: str) -> dict[str, str]:
    """``status`` output as {task id: its line}."""
    return {line.split()[0]: line for line in text.splitlines() if line[:16].isalnum()}


def test_status_shows_queued_tasks_with_their_job_id(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    grid = ["--plugins", str(PLUGINS), "--methods", "probe", "--datasets", "synthetic",
            "--sizes", "100", "--seeds", "0,1", "--out", str(out)]  # fmt: skip
    assert main(["run", *grid, "--executor", "debug"]) == 0  # saves the grid
    store = Store(out)
    tasks = probe_tasks(seeds=(0, 1))
    for index, task in enumerate(tasks):
        store.record_path(task.task_id).unlink()
        store.mark_running(task.task_id, state="queued", slurm_job_id=f"41_{index}")
    monkeypatch.setenv("PATH", fake_squeue(tmp_path, 'echo "41_0|PENDING"\n')["PATH"])
    capsys.readouterr()
    assert main(["status", "--plugins", str(PLUGINS), "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    rows = status_rows(shown)
    assert "queued" in rows[tasks[0].task_id] and "SLURM job 41_0" in rows[tasks[0].task_id]
    assert "missing" in rows[tasks[1].task_id]  # job 41_1 left the queue without a record
    assert "1 missing, 1 queued" in shown


def test_timed_out_task_without_checkpoint_is_not_requeued(tmp_path):
    task = probe_tasks()[0]
    slurm_task = SlurmTask(task.to_dict(), str(tmp_path), "attempt", None, time_limit_min=30)
    slurm_task.started = time.time() - 29 * 60
    assert slurm_task.checkpoint() is None and slurm_task.interruption == "timeout"
    Store(tmp_path).checkpoint_path(task.task_id).parent.mkdir(parents=True)
    Store(tmp_path).checkpoint_path(task.task_id).write_bytes(b"state")
    assert slurm_task.checkpoint() is not None and slurm_task.interruption == "requeued"
    slurm_task.started = time.time() - 60  # early: a preemption, requeued even without state
    Store(tmp_path).checkpoint_path(task.task_id).unlink()
    assert slurm_task.checkpoint() is not None and slurm_task.interruption == "requeued"
    assert looks_timed_out(29 * 60, 30) and not looks_timed_out(60, 30)


class EndedJob:
    """Stands in for a submitit job that has ended in ``state``."""

    def __init__(self, job_id: str, state: str) -> None:
        self.job_id, self.state = job_id, state

    def done(self) -> bool:
        return True


def test_a_lost_job_never_overwrites_a_success_of_another_attempt(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"  # the executor only checks that sbatch and srun are there
    bin_dir.mkdir()
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    store = Store(tmp_path / "out")
    ok_task, lost_task = probe_tasks(seeds=(0, 1))
    theirs = {**base_record(ok_task, "other-driver"), "status": "ok", "metrics": {"acc": 0.9}}
    store.write_record(theirs)
    ended = []  # this driver's attempts: both jobs ended without writing a record
    for index, task in enumerate((ok_task, lost_task)):
        ended.append(Submitted(task, "mine", EndedJob(f"9_{index}", "CANCELLED")))
        store.mark_running(
            task.task_id, state="queued", slurm_job_id=f"9_{index}", attempt_id="mine"
        )
    executor = SlurmExecutor(resolve_settings(PROFILE, {}), progress=False, poll_interval_s=0)
    records = executor.follow(ended, store)
    assert records[0] == theirs and store.read_record(ok_task.task_id) == theirs
    assert records[1]["status"] == "failed" and records[1]["attempt_id"] == "mine"
    assert "SLURM job 9_1 ended in state CANCELLED" in store.read_record(lost_task.task_id)["error"]
    assert store.read_marker(ok_task.task_id) is None  # this attempt's queued marker is gone
    assert store.read_marker(lost_task.task_id) is None


def test_slurm_executor_without_sbatch_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    code = main(["run", "--plugins", str(PLUGINS), "--methods", "probe", "--datasets",
                 "synthetic", "--sizes", "100", "--seeds", "0", "--executor", "slurm",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    assert "needs SLURM's sbatch and srun on PATH" in capsys.readouterr().err


# -- a real cluster ------------------------------------------------------------------------------


def _slurm_problem() -> str | None:
    if shutil.which("sbatch") is None:
        return "sbatch is not on PATH (start a test cluster with slurm/ci/slurm-up.sh)"
    try:
        info = subprocess.run(
            ["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if info.returncode != 0:
        last_line = (info.stderr.strip().splitlines() or ["no message"])[-1]
        return f"sinfo failed (is SLURM_CONF set? is the cluster up?): {last_line}"
    if not {"idle", "mixed", "allocated"} & set(info.stdout.split()):
        return f"no usable SLURM node (sinfo says: {info.stdout.strip() or 'nothing'})"
    return None


@pytest.fixture(scope="module")
def cluster() -> None:
    """Skip without a cluster; fail instead when SUBSPACE_BENCH_REQUIRE_SLURM=1."""
    problem = _slurm_problem()
    if problem is None:
        return
    if os.environ.get("SUBSPACE_BENCH_REQUIRE_SLURM") == "1":
        pytest.fail(f"SUBSPACE_BENCH_REQUIRE_SLURM=1 but no SLURM cluster: {problem}")
    pytest.skip(problem)


@contextlib.contextmanager
def node_held() -> Iterator[str]:
    """A job that holds the whole node while the block runs, so that new jobs stay pending."""
    job_id = subprocess.run(
        ["sbatch", "--parsable", "--partition=debug", "--exclusive", "--mem=100M",
         "--output=/dev/null", "--wrap=sleep 600"],
        capture_output=True, text=True, check=True,
    ).stdout.strip().split(";")[0]  # fmt: skip
    try:
        wait_until(lambda: active_state(job_id) == "RUNNING", 60, "the blocking job to start")
        yield job_id
    finally:
        subprocess.run(["scancel", job_id], check=False)


def active_state(job_id: str) -> str | None:
    shown = subprocess.run(
        ["squeue", "--noheader", "--array", "--format=%i|%T", "--jobs", job_id.split("_")[0]],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    states = dict(line.split("|", 1) for line in shown.split())
    return states.get(job_id)


def slurm_run(out: Path, *args: str) -> list[str]:
    return ["run", "--plugins", str(PLUGINS), "--datasets", "synthetic", "--sizes", "100",
            "--executor", "slurm", "--profile", PROFILE, "--out", str(out), *args]  # fmt: skip


@pytest.mark.slurm
def test_grid_on_slurm_gives_the_same_metrics_as_local(cluster, tmp_path):
    grid = ["--methods", ",".join(CLASSICAL), "--datasets", "synthetic", "--sizes", "100",
            "--seeds", "0"]  # fmt: skip
    on_slurm = run_cli("run", *grid, "--executor", "slurm", "--profile", PROFILE,
                       "--out", str(tmp_path / "slurm"))  # fmt: skip
    assert on_slurm.returncode == 0, on_slurm.stderr
    assert "submitted 4 task(s) as SLURM array job(s)" in on_slurm.stdout
    # The same BLAS threads as the SLURM tasks (one CPU each): floating-point sums then agree
    # to the last bit, objective values included.
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    local = run_cli(
        "run", *grid, "--jobs", "2", "--out", str(tmp_path / "local"), env={**os.environ, **threads}
    )
    assert local.returncode == 0, local.stderr
    slurm_records = {r["task_id"]: r for r in Store(tmp_path / "slurm").records()}
    local_records = {r["task_id"]: r for r in Store(tmp_path / "local").records()}
    assert len(slurm_records) == 4 and slurm_records.keys() == local_records.keys()
    for task_id, record in slurm_records.items():
        assert record["status"] == "ok", record["error"]
        assert record["metrics"] == local_records[task_id]["metrics"]
        assert record["convergence"] == local_records[task_id]["convergence"]
    assert not list((tmp_path / "slurm" / "running").glob("*.json"))


@pytest.mark.slurm
def test_a_raising_task_is_recorded_failed_with_log_and_the_others_finish(cluster, tmp_path):
    out = tmp_path / "out"
    result = run_cli(*slurm_run(out, "--methods", "probe", "--seeds", "0,1",
                                "--set", "probe.mode=ok,raise"))  # fmt: skip
    assert result.returncode == 1, result.stderr  # a failed task makes the run exit 1
    assert "finished: 2 failed, 2 ok" in result.stdout
    records = Store(out).records()
    assert len({r["attempt_id"] for r in records}) == 4
    for record in records:
        if record["params"]["mode"] == "ok":
            assert record["status"] == "ok" and record["metrics"]["acc"] > 0.2
            continue
        assert record["status"] == "failed"
        assert record["error"].startswith("Traceback")
        assert "RuntimeError: probe raised on purpose" in record["error"]
        log = Path(record["log_path"])
        assert log.resolve().parent == out / "logs" / "slurm"
        text = log.read_text()
        assert "probe raised on purpose" in text and "Starting with JobEnvironment" in text
    status = run_cli("status", "--plugins", str(PLUGINS), "--out", str(out))
    assert "2 done, 2 failed" in status.stdout
    assert "RuntimeError: probe raised on purpose" in status.stdout  # the whole reason
    assert "log: " in status.stdout


@pytest.mark.slurm
def test_an_interrupted_checkpointing_task_is_requeued_and_resumes(cluster, tmp_path):
    out, trace = tmp_path / "out", tmp_path / "trace.txt"
    tasks = probe_tasks("probe.mode=steps", "probe.n_steps=8", "probe.step_s=0.7",
                        f"probe.trace={trace}")  # fmt: skip
    store = Store(out)
    executor = SlurmExecutor(resolve_settings(PROFILE, {}), progress=False, poll_interval_s=0.5)
    [submitted] = executor.submit(tasks, store)
    wait_until(lambda: trace.exists() and "step 3" in trace.read_text(), 120, "three steps")
    submitted.job._interrupt()  # what SLURM does to a preempted job: SIGTERM, then SIGUSR2
    wait_until(
        lambda: (store.read_marker(tasks[0].task_id) or {}).get("state") == "queued",
        30,
        "the requeued task to be marked queued",
    )
    [record] = executor.follow([submitted], store)
    assert record["status"] == "ok", record["error"]
    lines = trace.read_text().splitlines()
    starts = [int(line.split()[1]) for line in lines if line.startswith("start")]
    assert starts[0] == 0 and len(starts) == 2 and starts[1] >= 3  # resumed, not restarted
    steps = [int(line.split()[1]) for line in lines if line.startswith("step")]
    assert steps[-1] == 8 and record["convergence"]["iterations"] == 8 - starts[1]
    log = Path(record["log_path"]).read_text()
    assert "Requeued job" in log and log.count("Starting with JobEnvironment") == 2
    assert not store.checkpoint_path(tasks[0].task_id).exists()  # removed once recorded


@pytest.mark.slurm
def test_status_shows_done_failed_queued_missing_and_rerun_skips_queued(cluster, tmp_path):
    out = tmp_path / "out"
    first = run_cli(*slurm_run(out, "--methods", "probe", "--seeds", "0",
                               "--set", "probe.mode=ok,raise"))  # fmt: skip
    assert "finished: 1 failed, 1 ok" in first.stdout, first.stderr
    with node_held() as blocker:
        queued_args = slurm_run(out, "--methods", "probe", "--seeds", "1,2", "--no-wait")
        submitted = run_cli(*queued_args)
        assert submitted.returncode == 0, submitted.stderr
        assert "2 to run" in submitted.stdout and "status --out" in submitted.stdout
        markers = {p.stem: Store(out).read_marker(p.stem) for p in (out / "running").glob("*")}
        job_of = {task_id: marker["slurm_job_id"] for task_id, marker in markers.items()}
        assert len(job_of) == 2 and all(active_state(j) == "PENDING" for j in job_of.values())

        again = run_cli(*queued_args)  # the same command: nothing new is submitted
        assert "0 to run" in again.stdout and "2 running elsewhere" in again.stdout
        assert "submitted" not in again.stdout

        kept, cancelled = sorted(job_of, key=job_of.get)
        subprocess.run(["scancel", job_of[cancelled]], check=True)  # leaves the queue, no record
        wait_until(lambda: active_state(job_of[cancelled]) is None, 30, "the cancelled job")
        shown = run_cli("status", "--plugins", str(PLUGINS), "--out", str(out)).stdout
        assert "1 done, 1 failed, 1 missing, 1 queued" in shown
        rows = status_rows(shown)
        assert "queued" in rows[kept] and f"SLURM job {job_of[kept]}" in rows[kept]
        assert "missing" in rows[cancelled]
        assert "RuntimeError: probe raised on purpose" in shown

        subprocess.run(["scancel", blocker], check=True)  # the queued task runs on its own
        wait_until(lambda: Store(out).read_record(kept) is not None, 120, "the queued task")
    shown = run_cli("status", "--plugins", str(PLUGINS), "--out", str(out)).stdout
    assert "2 done, 1 failed, 1 missing" in shown


@pytest.mark.slurm
def test_ctrl_c_while_following_asks_and_cancels_the_jobs(cluster, tmp_path):
    out = tmp_path / "out"
    with node_held():
        stdout, stderr, job_ids = interrupt_driver_and_answer_yes(out)
    assert "cancel the 2 unfinished SLURM job(s)" in stdout
    assert "cancelled 2 job(s)" in stderr
    wait_until(lambda: all(active_state(j) is None for j in job_ids), 30, "the jobs to go")
    assert not Store(out).running() and not Store(out).records()


def _sigint_as_at_a_terminal() -> None:
    # A shell ignores SIGINT in its background jobs, and Python turns SIGINT into
    # KeyboardInterrupt only when it starts with the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_driver_and_answer_yes(out: Path) -> tuple[str, str, list[str]]:
    """Start a following driver, Ctrl-C it once its jobs are queued, answer "y"."""
    command = slurm_run(out, "--methods", "probe", "--seeds", "0,1")
    driver = subprocess.Popen(
        [sys.executable, "-m", "benchmark", *command],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_sigint_as_at_a_terminal,
    )  # fmt: skip
    try:
        wait_until(lambda: len(list((out / "running").glob("*.json"))) == 2, 60, "submission")
        markers = [Store(out).read_marker(p.stem) for p in (out / "running").glob("*.json")]
        job_ids = [m["slurm_job_id"] for m in markers]
        assert all(active_state(j) == "PENDING" for j in job_ids)
        time.sleep(1)  # let the driver enter its follow loop
        driver.send_signal(signal.SIGINT)
        stdout, stderr = driver.communicate("y\n", timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    return stdout, stderr, job_ids


@pytest.mark.slurm
def test_a_job_ended_without_a_record_gets_one_from_its_slurm_state(cluster, tmp_path):
    out = tmp_path / "out"
    tasks = probe_tasks("probe.mode=sleep", "probe.step_s=300")
    store = Store(out)
    executor = SlurmExecutor(resolve_settings(PROFILE, {}), progress=False, poll_interval_s=0.5)
    [submitted] = executor.submit(tasks, store)
    wait_until(
        lambda: (store.read_marker(tasks[0].task_id) or {}).get("state") == "running",
        60,
        "the task to start",
    )
    subprocess.run(["scancel", submitted.job_id], check=True)  # as an admin or a node loss would
    [record] = executor.follow([submitted], store)
    assert record["status"] == "failed"
    assert f"SLURM job {submitted.job_id} ended in state CANCELLED" in record["error"]
    assert record["log_path"] == str(store.log_path(tasks[0].task_id))
    assert not store.running()
