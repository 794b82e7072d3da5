"""In-process executor: tasks run one after the other in this process (for breakpoints).

No isolation: a crash ends the sweep, there is no time limit, and peak memory is the
process's, not the task's. Use the local executor for real sweeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from benchmark.store import Store
from benchmark.tasks import Task
from benchmark.worker import run_task


class DebugExecutor:
    """Runs each task with :func:`benchmark.worker.run_task` in this process."""

    def __init__(self, mem_budget_mb: float | None = None) -> None:
        self.mem_budget_mb = mem_budget_mb

    def run(self, tasks: Sequence[Task], store: Store) -> list[dict[str, Any]]:
        """Run ``tasks`` in order; return their records."""
        records = []
        for task in tqdm(tasks, desc="tasks", unit="task"):
            records.append(run_task(task, str(store.root), mem_budget_mb=self.mem_budget_mb))
        return records
