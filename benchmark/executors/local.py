"""Local executor: every task in its own watched child process, ``jobs`` at a time.

joblib alone cannot isolate tasks (its timeout aborts the whole run, and one worker
killed for memory ends the sweep), so each task gets a fresh ``python -m
benchmark.worker`` process in its own session. The driver enforces the time limit,
turns a crash, a signal (e.g. the out-of-memory killer) or a timeout into that task's
record, measures each child's peak memory from ``wait4``'s resource usage, and kills
its children when it is interrupted. Children also ask the kernel to kill them if the
driver dies (``PR_SET_PDEATHSIG``), so a SIGKILLed driver leaves no orphan workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from benchmark.progress import status_line
from benchmark.store import Store, marker_is_alive
from benchmark.tasks import Task
from benchmark.worker import base_record

POLL_INTERVAL_S = 0.05
PROGRESS_REFRESH_S = 2.0
"""How often the bar shows the running tasks' latest progress (read from their logs)."""
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LOG_TAIL_LINES = 30


@dataclass
class _Child:
    task: Task
    attempt_id: str
    process: subprocess.Popen
    log: IO[bytes]
    started: float


def _log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


KILLED = "worker process killed by"
"""How the error of a task whose worker a signal stopped begins (``verify`` tells such a
rerun, stopped from outside, from one that failed by itself)."""


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name
        hint = " (often the out-of-memory killer)" if number == signal.SIGKILL else ""
        return f"{KILLED} {name}{hint}"
    return f"worker process exited with status {os.WEXITSTATUS(status)} without a record"


def _taken_meanwhile(task: Task, store: Store) -> bool:
    """True if another driver on the same output folder has run or started ``task``
    since this sweep was planned (two sweeps over overlapping grids share the work)."""
    record = store.read_record(task.task_id)
    if record is not None and record["status"] == "ok":
        return True
    marker = store.read_marker(task.task_id)
    return marker is not None and marker_is_alive(marker)


class LocalExecutor:
    """Run tasks in child processes on this machine.

    ``timeout_min``: per-task wall-clock limit (``None``: none). ``mem_budget_mb``:
    tasks whose method estimates more are refused before fitting. ``mem_limit_mb``:
    a hard address-space limit set in each child (allocations past it fail).
    """

    def __init__(
        self,
        jobs: int = 1,
        timeout_min: float | None = None,
        mem_budget_mb: float | None = None,
        mem_limit_mb: float | None = None,
        progress: bool = True,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        self.timeout_s = None if timeout_min is None else timeout_min * 60.0
        self.mem_budget_mb = mem_budget_mb
        self.mem_limit_mb = mem_limit_mb
        self.progress = progress

    def _child_env(self) -> dict[str, str]:
        """The environment of a task: BLAS/OpenMP threads shared out among the ``jobs``.

        Without a cap every task starts one thread per core and ``jobs`` tasks fight over
        them; a value the user set is kept.
        """
        env = dict(os.environ)
        threads = str(max(1, (os.cpu_count() or 1) // self.jobs))
        for name in THREAD_VARIABLES:
            env.setdefault(name, threads)
        return env

    def _start(self, task: Task, store: Store) -> _Child:
        attempt_id = uuid.uuid4().hex
        command = [
            sys.executable,
            "-m",
            "benchmark.worker",
            json.dumps(task.to_dict()),
            "--out",
            str(store.root),
            "--attempt",
            attempt_id,
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.mem_budget_mb is not None:
            command += ["--mem-budget-mb", str(self.mem_budget_mb)]
        if self.mem_limit_mb is not None:
            command += ["--mem-limit-mb", str(self.mem_limit_mb)]
        log_path = store.log_path(task.task_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        if log_path.is_symlink():  # left by a SLURM attempt: do not append to its log
            log_path.unlink()
        log = open(log_path, "ab")  # noqa: SIM115 - closed when the child is reaped
        log.write(f"=== attempt {attempt_id} {time.ctime()}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=self._child_env(),
        )
        return _Child(task, attempt_id, process, log, time.monotonic())

    def _finish(self, child: _Child, status: int, rusage: Any, store: Store, timed_out: bool):
        child.log.close()
        child.process.returncode = status  # reaped by wait4; keep Popen from waiting again
        task = child.task
        record = store.read_record(task.task_id)
        if record is not None:
            mine = record.get("attempt_id") == child.attempt_id
            # our child's own record, or a success by another driver running the same task
            # at the same time: never overwrite a success with this attempt's failure
            if (mine and not timed_out) or (not mine and record.get("status") == "ok"):
                return record
        log_path = store.log_path(task.task_id)
        record = base_record(task, child.attempt_id, str(log_path))
        wall = time.monotonic() - child.started
        record["wall_time_s"] = wall
        record["peak_mem_mb"] = rusage.ru_maxrss / 1024.0
        if timed_out:
            record["status"] = "timeout"
            record["error"] = f"killed after the time limit of {self.timeout_s / 60:g} min"
        else:
            record["error"] = f"{_describe_exit(status)}; log {log_path}:\n{_log_tail(log_path)}"
        store.write_record(record)
        store.clear_running(task.task_id)
        return record

    @staticmethod
    def _kill(child: _Child) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)

    def run(
        self,
        tasks: Sequence[Task],
        store: Store,
        on_record: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Run ``tasks``, ``jobs`` at a time; return their records in completion order.

        ``on_record`` sees each record as its task ends (before the others finish)."""
        pending = list(tasks)[::-1]
        active: dict[int, _Child] = {}
        timed_out: set[int] = set()
        records: list[dict[str, Any]] = []
        counts = {"ok": 0, "failed": 0, "timeout": 0, "diverged": 0}
        bar = tqdm(total=len(pending), desc="tasks", unit="task", disable=not self.progress)
        shown = 0.0
        try:
            while pending or active:
                while pending and len(active) < self.jobs:
                    task = pending.pop()
                    if _taken_meanwhile(task, store):
                        bar.update(1)
                        continue
                    child = self._start(task, store)
                    active[child.process.pid] = child
                for pid, child in list(active.items()):
                    if (
                        self.timeout_s is not None
                        and pid not in timed_out
                        and time.monotonic() - child.started > self.timeout_s
                    ):
                        timed_out.add(pid)
                        self._kill(child)
                    reaped, status, rusage = os.wait4(pid, os.WNOHANG)
                    if reaped == 0:
                        continue
                    del active[pid]
                    record = self._finish(child, status, rusage, store, pid in timed_out)
                    records.append(record)
                    if on_record is not None:
                        on_record(record)
                    counts[record["status"]] += 1
                    bar.update(1)
                    if record["status"] != "ok":
                        bar.write(f"{child.task.label}: {record['status']}")
                if time.monotonic() - shown >= PROGRESS_REFRESH_S:
                    shown = time.monotonic()
                    running = [
                        (child.task.label, store.log_path(child.task.task_id))
                        for child in active.values()
                    ]
                    bar.set_postfix_str(status_line(counts, running), refresh=True)
                time.sleep(POLL_INTERVAL_S)
        finally:
            for child in active.values():
                self._kill(child)
                child.process.wait()
                child.log.close()
                store.clear_running(child.task.task_id)
            bar.close()
        return records
