"""Which tasks of a grid to run now (resume), and the executor interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmark.store import Store
from benchmark.tasks import Task

NOT_OK = ("failed", "timeout", "diverged")
"""Record statuses of a task that did not succeed."""
_TRACEBACK = "Traceback (most recent call last):"
MISSING_DATA = "benchmark.data.checks.MissingDataError"
"""A failure of the machine, not of the method: once the data is there, the task may work."""


class Executor(Protocol):
    """Runs tasks so that each one ends with its record in the store."""

    def run(self, tasks: Sequence[Task], store: Store) -> list[dict[str, Any]]:
        """Run ``tasks``; return their records (in completion order)."""
        ...


@dataclass
class Plan:
    """A grid split by what the store already holds."""

    to_run: list[Task] = field(default_factory=list)
    done: list[Task] = field(default_factory=list)
    failed: list[Task] = field(default_factory=list)
    running: list[Task] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many tasks run now and why the others are skipped."""
        parts = [f"{len(self.to_run)} to run", f"{len(self.done)} already done"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed earlier (rerun with --retry-failed)")
        if self.running:
            parts.append(f"{len(self.running)} running elsewhere")
        return ", ".join(parts)


def plan(tasks: Sequence[Task], store: Store, retry_failed: bool = False) -> Plan:
    """Skip tasks recorded ``ok``, tasks running elsewhere, and failures unless retried.

    A task that failed only because its data was missing is always run again: rerunning
    the same command after fetching the data (or pointing ``--mirror`` at it) must run it.
    """
    running = store.running()
    result = Plan()
    seen: set[str] = set()
    for task in tasks:
        task_id = task.task_id
        if task_id in seen:
            continue
        seen.add(task_id)
        record = store.read_record(task_id)
        if task_id in running:
            result.running.append(task)
        elif record is not None and record["status"] == "ok":
            result.done.append(task)
        elif record is not None and not retry_failed and not _missing_data(record):
            result.failed.append(task)
        else:
            result.to_run.append(task)
    return result


def _missing_data(record: dict[str, Any]) -> bool:
    return failure_reason(record.get("error")).startswith(MISSING_DATA)


def _final_exception(traceback_text: str) -> str:
    """The final exception of a formatted traceback: its type and whole message (every line,
    so advice such as ``Fix: ...`` is kept), without the frames above it."""
    lines = traceback_text.strip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    start = frames[-1] + 1 if frames else 1
    while start < len(lines) and lines[start].startswith("    "):  # source line, ^^^ markers
        start += 1
    return "\n".join(lines[start:]).strip()


def failure_reason(error: str | None) -> str:
    """Why a task did not succeed, from its record's ``error``, in full.

    A traceback gives its final exception (type and whole message); any other error gives
    its first line (e.g. "worker process killed by SIGKILL ...; log ..."), followed by the
    final exception of a traceback found further down (a crashed worker's log tail).
    """
    text = (error or "").strip()
    if not text:
        return "(no error recorded)"
    if text.startswith(_TRACEBACK):
        return _final_exception(text)
    head = text.splitlines()[0]
    start = text.rfind(_TRACEBACK)
    return head if start < 0 else f"{head}\n{_final_exception(text[start:])}"
