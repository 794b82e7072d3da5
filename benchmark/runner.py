"""Which tasks of a grid to run now (resume), and the executor interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmark.store import Store
from benchmark.tasks import Task


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
    """Skip tasks recorded ``ok``, tasks running elsewhere, and failures unless retried."""
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
        elif record is not None and not retry_failed:
            result.failed.append(task)
        else:
            result.to_run.append(task)
    return result
