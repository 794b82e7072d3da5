"""SLURM executor: the tasks of a submission as one SLURM array job, through submitit.

Each array task runs :func:`benchmark.worker.run_task` in the job's process, so it writes
its record exactly as the local executor does. The driver writes a ``queued`` marker
with the job id for every task (``status`` shows it; a rerun skips the task while SLURM
still lists the job), then follows the jobs with a progress bar and collects each record
as it appears; a job that ends without a record (killed for memory or time, node
failure, cancelled) gets a record made from its SLURM state. Ctrl-C while following
asks whether to cancel the jobs. With ``no_wait`` it returns right after submitting.

Preemption and timeouts: submitit sends the job ``SIGUSR2`` before SLURM stops it; the
task (a submitit ``Checkpointable``) is then requeued and, when run again, the method
resumes from the engine checkpoint ``OUT/checkpoints/<task_id>.pt``. A task that hits
the time limit without a checkpoint to resume from is not requeued (it would only start
over) and is recorded ``timeout``.

Logs: submitit writes each array task's output to ``OUT/logs/slurm/<job>_<index>_0_log.out``;
``OUT/logs/<task_id>.log`` (the record's ``log_path``) is a link to it.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from submitit import SlurmExecutor as SubmititSlurmExecutor
from submitit.helpers import Checkpointable, DelayedSubmission
from tqdm import tqdm

from benchmark.progress import status_line
from benchmark.registry import PROJECT_ROOT
from benchmark.store import Store
from benchmark.tasks import Task
from benchmark.worker import base_record, run_task

PROFILE_DIR = PROJECT_ROOT / "slurm"
DEFAULT_PROFILE = "default"
DEFAULT_TIME_MIN = 240
"""SLURM time limit of a task when neither ``--slurm-time-min`` nor ``--timeout-min`` is set."""
TIME_FACTOR, TIME_MARGIN_MIN = 1.5, 5
"""Default SLURM time limit: ``TIME_FACTOR × --timeout-min + TIME_MARGIN_MIN``."""
DEFAULT_MEM_GB = 4.0
"""Memory per task when ``--mem-gb`` is not set and no task has a memory estimate."""
MEM_HEADROOM, MEM_BASE_GB = 1.25, 1.0
"""Default memory: ``MEM_HEADROOM ×`` the largest task estimate ``+ MEM_BASE_GB``."""
THREAD_SETUP = [
    f"export {name}=${{SLURM_CPUS_PER_TASK:-1}}"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
]
"""Shell lines run before every task: BLAS threads match the CPUs SLURM gave the task."""
POLL_INTERVAL_S = 2.0
LOG_TAIL_LINES = 30


class SlurmSetupError(ValueError):
    """Bad SLURM settings or profile, or no SLURM here; the message says what to do."""


@dataclass
class SlurmSettings:
    """Resources and options of the array jobs (from a profile, then the command line)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_min: float | None = None
    mem_gb: float | None = None
    cpus_per_task: int = 1
    gpus_per_task: int | None = None
    array_parallelism: int = 64
    max_array_size: int = 1000
    max_requeue: int = 3
    setup: list[str] = field(default_factory=list)
    sbatch: dict[str, Any] = field(default_factory=dict)
    python: str | None = None


_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "partition": (str,), "account": (str,), "qos": (str,), "python": (str,),
    "time_min": (int, float), "mem_gb": (int, float),
    "cpus_per_task": (int,), "gpus_per_task": (int,), "array_parallelism": (int,),
    "max_array_size": (int,), "max_requeue": (int,), "setup": (list,), "sbatch": (dict,),
}  # fmt: skip


def available_profiles() -> list[str]:
    """Names of the profiles in the project's ``slurm/`` folder."""
    return sorted(path.stem for path in PROFILE_DIR.glob("*.toml"))


def profile_path(name: str) -> Path:
    """The file of profile ``name``: a path to a ``.toml`` file, or ``slurm/<name>.toml``."""
    candidate = Path(name)
    if candidate.suffix == ".toml" or len(candidate.parts) > 1:
        if not candidate.is_file():
            raise SlurmSetupError(f"SLURM profile file {name} does not exist")
        return candidate
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise SlurmSetupError(
            f"no SLURM profile {name!r} in {PROFILE_DIR}; available: "
            f"{', '.join(available_profiles()) or '(none)'}; or pass a path to a .toml file"
        )
    return path


def load_profile(name: str | None) -> dict[str, Any]:
    """The settings in profile ``name`` (``None``: ``slurm/default.toml`` if it exists)."""
    if name is None:
        default = PROFILE_DIR / f"{DEFAULT_PROFILE}.toml"
        if not default.is_file():
            return {}
        name = str(default)
    path = profile_path(name)
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SlurmSetupError(f"SLURM profile {path} is not valid TOML: {exc}") from exc
    for key, value in values.items():
        if key not in _KEY_TYPES:
            raise SlurmSetupError(
                f"SLURM profile {path}: unknown key {key!r}; known keys: "
                f"{', '.join(sorted(_KEY_TYPES))} (other sbatch options go in [sbatch])"
            )
        if isinstance(value, bool) or not isinstance(value, _KEY_TYPES[key]):
            kinds = " or ".join(t.__name__ for t in _KEY_TYPES[key])
            raise SlurmSetupError(f"SLURM profile {path}: {key} must be a {kinds}, got {value!r}")
    return values


def default_time_min(timeout_min: float | None) -> int:
    """SLURM time limit for tasks with per-task limit ``timeout_min`` (minutes)."""
    if timeout_min is None:
        return DEFAULT_TIME_MIN
    return math.ceil(TIME_FACTOR * timeout_min + TIME_MARGIN_MIN)


def default_mem_gb(tasks: Sequence[Task]) -> float:
    """Memory per array task: headroom over the largest task's own estimate."""
    estimates = [t.memory_estimate_mb for t in tasks if t.memory_estimate_mb is not None]
    if not estimates:
        return DEFAULT_MEM_GB
    return float(math.ceil(MEM_HEADROOM * max(estimates) / 1024 + MEM_BASE_GB))


def resolve_settings(
    profile: str | None, overrides: dict[str, Any], timeout_min: float | None = None
) -> SlurmSettings:
    """Settings from ``profile`` with the non-``None`` ``overrides`` (command line) on top.

    The time limit is ``overrides["time_min"]``, else derived from ``timeout_min`` (the
    per-task limit), else the profile's, else :data:`DEFAULT_TIME_MIN`.
    """
    values = load_profile(profile)
    if timeout_min is not None:
        values["time_min"] = default_time_min(timeout_min)
    values.update({key: value for key, value in overrides.items() if value is not None})
    known = {f.name for f in fields(SlurmSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SlurmSetupError(f"unknown SLURM setting(s): {', '.join(unknown)}")
    settings = SlurmSettings(**values)
    if settings.time_min is None:
        settings.time_min = DEFAULT_TIME_MIN
    for name in ("time_min", "cpus_per_task", "array_parallelism", "max_array_size"):
        if getattr(settings, name) <= 0:
            raise SlurmSetupError(f"SLURM {name} must be positive, got {getattr(settings, name)}")
    if settings.mem_gb is not None and settings.mem_gb <= 0:
        raise SlurmSetupError(f"SLURM mem_gb must be positive, got {settings.mem_gb}")
    return settings


def sbatch_parameters(settings: SlurmSettings, mem_gb: float) -> dict[str, Any]:
    """submitit ``SlurmExecutor`` parameters (sbatch options) for ``settings``."""
    params: dict[str, Any] = {
        "job_name": "subspace-bench",
        "time": math.ceil(settings.time_min or DEFAULT_TIME_MIN),
        "mem": f"{math.ceil(mem_gb * 1024)}MB",
        "cpus_per_task": settings.cpus_per_task,
        "array_parallelism": settings.array_parallelism,
        "stderr_to_stdout": True,
        "setup": [*THREAD_SETUP, *settings.setup],
    }
    for name in ("partition", "account", "qos", "gpus_per_task"):
        if getattr(settings, name) is not None:
            params[name] = getattr(settings, name)
    if settings.sbatch:
        params["additional_parameters"] = dict(settings.sbatch)
    return params


def current_job_id() -> str | None:
    """This process's SLURM job id (``<array job>_<index>`` inside an array), if any."""
    array_job, index = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and index:
        return f"{array_job}_{index}"
    return os.environ.get("SLURM_JOB_ID")


def looks_timed_out(elapsed_s: float, time_limit_min: float) -> bool:
    """Whether submitit counts a signal after ``elapsed_s`` as a timeout, not a preemption.

    Mirrors submitit's rule (``submitit.core.job_environment.SignalHandler.has_timed_out``):
    past ``min(0.8 × limit, limit − 10 min)``.
    """
    limit_s = time_limit_min * 60.0
    return elapsed_s >= min(0.8 * limit_s, limit_s - 600.0)


class SlurmTask(Checkpointable):
    """One task inside a SLURM array job (pickled by submitit: plain data only).

    Preempted, or timed out with a checkpoint to resume from: requeued (the marker goes
    back to ``queued``). Timed out without a checkpoint: recorded ``timeout``.
    """

    def __init__(
        self,
        task: dict[str, Any],
        out_dir: str,
        attempt_id: str,
        mem_budget_mb: float | None,
        time_limit_min: float,
    ) -> None:
        self.task = task
        self.out_dir = out_dir
        self.attempt_id = attempt_id
        self.mem_budget_mb = mem_budget_mb
        self.time_limit_min = time_limit_min
        self.started = time.time()
        self.interruption: str | None = None

    def __call__(self) -> str:
        task = Task.from_dict(self.task)
        store = Store(self.out_dir)
        previous = store.read_record(task.task_id)
        if previous is not None and previous.get("attempt_id") == self.attempt_id:
            return previous["status"]  # requeued after its record was written
        self.started, self.interruption = time.time(), None
        job_id = current_job_id()
        print(f"task {task.task_id} {task.label} attempt {self.attempt_id}", flush=True)
        try:
            marker = {"state": "running", "slurm_job_id": job_id}
            record = run_task(task, self.out_dir, self.attempt_id, self.mem_budget_mb, marker)
        except SystemExit:
            if self.interruption == "requeued":
                store.mark_running(
                    task.task_id, state="queued", slurm_job_id=job_id, attempt_id=self.attempt_id
                )
            raise
        if self.interruption is not None and record["status"] == "failed":
            record["status"] = "timeout"
            record["error"] = (
                f"stopped at the SLURM time limit of {self.time_limit_min:g} min and not "
                f"requeued (no checkpoint to resume from, or requeued too often); raise "
                f"--slurm-time-min.\n{record['error']}"
            )
            store.write_record(record)
        print(f"task {task.task_id}: {record['status']}", flush=True)
        if record["error"]:
            print(record["error"], flush=True)
        return record["status"]

    def checkpoint(self, *args: Any, **kwargs: Any) -> DelayedSubmission | None:
        """Called by submitit on SIGUSR2: the submission to requeue, or ``None`` to stop."""
        task_id = Task.from_dict(self.task).task_id
        saved = Store(self.out_dir).checkpoint_path(task_id).exists()
        if looks_timed_out(time.time() - self.started, self.time_limit_min) and not saved:
            self.interruption = "timeout"
            return None
        self.interruption = "requeued"
        return super().checkpoint(*args, **kwargs)


@dataclass
class Submitted:
    """One task of a submission: what ran, under which attempt id, in which SLURM job."""

    task: Task
    attempt_id: str
    job: Any  # submitit.slurm.slurm.SlurmJob

    @property
    def job_id(self) -> str:
        """SLURM job id, ``<array job>_<index>``."""
        return str(self.job.job_id)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` (relative), replacing what was there atomically."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)


def _ask(prompt: str) -> str:
    """Read an answer from stdin; end of input counts as no answer."""
    try:
        return input(prompt)
    except EOFError:
        return ""


class SlurmExecutor:
    """Submit tasks as SLURM array jobs and collect their records.

    ``mem_budget_mb`` is passed to each task (tasks whose method estimates more are
    refused before fitting); by default the job's memory. ``ask`` reads the answer to
    the cancel question after Ctrl-C.
    """

    def __init__(
        self,
        settings: SlurmSettings,
        mem_budget_mb: float | None = None,
        no_wait: bool = False,
        progress: bool = True,
        poll_interval_s: float = POLL_INTERVAL_S,
        ask: Callable[[str], str] = _ask,
    ) -> None:
        if shutil.which("sbatch") is None or shutil.which("srun") is None:
            raise SlurmSetupError(
                "--executor slurm needs SLURM's sbatch and srun on PATH: run on a login node "
                "of the cluster (or use --executor local)"
            )
        self.settings = settings
        self.mem_budget_mb = mem_budget_mb
        self.no_wait = no_wait
        self.progress = progress
        self.poll_interval_s = poll_interval_s
        self.ask = ask

    def run(self, tasks: Sequence[Task], store: Store) -> list[dict[str, Any]]:
        """Submit ``tasks``; unless ``no_wait``, follow them and return their records."""
        if not tasks:
            return []
        submitted = self.submit(tasks, store)
        arrays = sorted({s.job_id.split("_")[0] for s in submitted}, key=int)
        print(
            f"submitted {len(submitted)} task(s) as SLURM array job(s) {', '.join(arrays)}; "
            f"logs in {store.logs_dir / 'slurm'}",
            flush=True,
        )
        if self.no_wait:
            print(f"follow them with `python -m benchmark status --out {store.root}`")
            return []
        return self.follow(submitted, store)

    def submit(self, tasks: Sequence[Task], store: Store) -> list[Submitted]:
        """Submit ``tasks`` (one array job per ``max_array_size`` of them) and mark them queued."""
        settings = self.settings
        limit = float(settings.time_min or DEFAULT_TIME_MIN)
        mem_gb = settings.mem_gb or default_mem_gb(tasks)
        budget = self.mem_budget_mb if self.mem_budget_mb is not None else mem_gb * 1024
        executor = SubmititSlurmExecutor(
            folder=store.logs_dir / "slurm",
            max_num_timeout=settings.max_requeue,
            python=settings.python,
        )
        executor.update_parameters(**sbatch_parameters(settings, mem_gb))
        over = [t for t in tasks if (t.memory_estimate_mb or 0.0) > budget]
        if over:
            print(
                f"warning: {len(over)} task(s) estimate more memory than the {budget / 1024:g} GB "
                f"budget per task (e.g. {over[0].label}) and will be refused: raise --mem-gb",
                file=sys.stderr,
            )
        submitted: list[Submitted] = []
        for start in range(0, len(tasks), settings.max_array_size):
            chunk = tasks[start : start + settings.max_array_size]
            attempts = [uuid.uuid4().hex for _ in chunk]
            with executor.batch():
                jobs = [
                    executor.submit(
                        SlurmTask(task.to_dict(), str(store.root), attempt, budget, limit)
                    )
                    for task, attempt in zip(chunk, attempts, strict=True)
                ]
            for task, attempt, job in zip(chunk, attempts, jobs, strict=True):
                entry = Submitted(task, attempt, job)
                self._mark_queued(entry, store)
                submitted.append(entry)
        return submitted

    @staticmethod
    def _mark_queued(entry: Submitted, store: Store) -> None:
        task_id = entry.task.task_id
        _link(store.log_path(task_id), entry.job.paths.stdout)
        record = store.read_record(task_id)
        marker = store.read_marker(task_id)
        if (record or {}).get("attempt_id") == entry.attempt_id:
            return  # already finished
        if (marker or {}).get("attempt_id") == entry.attempt_id:
            return  # already started: its running marker says more than "queued"
        store.mark_running(
            task_id, state="queued", slurm_job_id=entry.job_id, attempt_id=entry.attempt_id
        )

    def follow(self, submitted: Sequence[Submitted], store: Store) -> list[dict[str, Any]]:
        """Wait for the submitted tasks; return their records in completion order."""
        pending = {entry.task.task_id: entry for entry in submitted}
        records: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        bar = tqdm(total=len(pending), desc="SLURM tasks", unit="task", disable=not self.progress)
        try:
            while pending:
                for task_id, entry in list(pending.items()):
                    record = self._collect(entry, store)
                    if record is None:
                        continue
                    del pending[task_id]
                    records.append(record)
                    counts[record["status"]] = counts.get(record["status"], 0) + 1
                    bar.update(1)
                    if record["status"] != "ok":
                        bar.write(f"{entry.task.label} (job {entry.job_id}): {record['status']}")
                running = [
                    (entry.task.label, store.log_path(entry.task.task_id))
                    for entry in pending.values()
                ]
                bar.set_postfix_str(status_line(counts, running), refresh=True)
                if pending:
                    time.sleep(self.poll_interval_s)
        except KeyboardInterrupt:
            bar.close()
            self._interrupted(list(pending.values()), store)
        finally:
            bar.close()
        return records

    @staticmethod
    def _own_record(entry: Submitted, store: Store) -> dict[str, Any] | None:
        record = store.read_record(entry.task.task_id)
        if record is not None and record.get("attempt_id") == entry.attempt_id:
            return record
        return None

    def _collect(self, entry: Submitted, store: Store) -> dict[str, Any] | None:
        """The task's record once its job is over (made from the job's state if it wrote none)."""
        record = self._own_record(entry, store)
        if record is not None or not entry.job.done():
            return record
        record = self._own_record(entry, store)  # written just before the job ended
        return record if record is not None else self._record_lost(entry, store)

    @staticmethod
    def _record_lost(entry: Submitted, store: Store) -> dict[str, Any]:
        """Record a task whose job ended without writing one (killed, cancelled, node lost),
        unless another driver running the same task recorded a success: that stays."""
        task_id = entry.task.task_id
        theirs = store.read_record(task_id)
        if theirs is not None and theirs.get("status") == "ok":
            if (store.read_marker(task_id) or {}).get("attempt_id") == entry.attempt_id:
                store.clear_running(task_id)  # this attempt's stale marker, not another's
            return theirs
        log_path = store.log_path(task_id)
        state = entry.job.state
        record = base_record(entry.task, entry.attempt_id, str(log_path))
        record["status"] = "timeout" if state.startswith("TIMEOUT") else "failed"
        record["error"] = (
            f"SLURM job {entry.job_id} ended in state {state} without writing a record "
            f"(killed for time or memory, cancelled, or node failure); log {log_path}:\n"
            f"{_tail(log_path)}"
        )
        store.write_record(record)
        store.clear_running(task_id)
        return record

    def _interrupted(self, pending: list[Submitted], store: Store) -> None:
        """After Ctrl-C: cancel the unfinished jobs if the user says so, else leave them."""
        if not pending:
            return
        ids = [entry.job_id for entry in pending]
        answer = self.ask(
            f"\ninterrupted: cancel the {len(ids)} unfinished SLURM job(s) "
            f"({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''})? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print(
                f"left {len(ids)} job(s) in SLURM; `python -m benchmark status --out "
                f"{store.root}` shows them, and a rerun will not submit them again"
            )
            return
        subprocess.run(["scancel", *ids], check=False)
        for entry in pending:
            store.clear_running(entry.task.task_id)
        print(f"cancelled {len(ids)} job(s)", file=sys.stderr)


def slurm_executor_from_options(
    options: dict[str, Any],
    timeout_min: float | None,
    mem_budget_mb: float | None = None,
    no_wait: bool = False,
) -> SlurmExecutor:
    """The executor for ``--executor slurm`` (``options``: the command line's SLURM values,
    ``profile`` among them)."""
    options = dict(options)
    profile = options.pop("profile", None)
    settings = resolve_settings(profile, options, timeout_min)
    return SlurmExecutor(settings, mem_budget_mb=mem_budget_mb, no_wait=no_wait)
