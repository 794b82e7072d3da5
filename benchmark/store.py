"""The result store: one JSON record per task, and markers for running tasks.

Layout of an output folder ``OUT``::

    OUT/records/<task_id>.json      one per task, written atomically when the task ends
    OUT/running/<task_id>.json      marker of a running task (pid/host or SLURM job id,
                                    heartbeat) or of one queued in SLURM (job id)
    OUT/checkpoints/<task_id>.pt    resumable state of long tasks (removed when recorded)
    OUT/logs/<task_id>.log          stdout/stderr of the task's process

Readers skip temporary and unparsable files, so a writer killed mid-write never leaves
a record that is read as valid.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from benchmark.atomic import TMP_PREFIX, atomic_write_json
from benchmark.slurm_queue import active_jobs

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "timeout", "diverged")
HEARTBEAT_INTERVAL_S = 15.0
STALE_AFTER_S = 90.0
"""A marker whose heartbeat is older than this belongs to a dead process."""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Store:
    """Records, running markers, checkpoints and logs under one output folder."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.root = Path(out_dir)
        self.records_dir = self.root / "records"
        self.running_dir = self.root / "running"
        self.checkpoints_dir = self.root / "checkpoints"
        self.logs_dir = self.root / "logs"

    # records -----------------------------------------------------------------
    def record_path(self, task_id: str) -> Path:
        """Where the record of ``task_id`` lives."""
        return self.records_dir / f"{task_id}.json"

    def write_record(self, record: dict[str, Any]) -> Path:
        """Write (or replace) a task's record atomically."""
        if record.get("status") not in STATUSES:
            raise ValueError(
                f"record status must be one of {STATUSES}, got {record.get('status')!r}"
            )
        return atomic_write_json(self.record_path(record["task_id"]), record)

    def read_record(self, task_id: str) -> dict[str, Any] | None:
        """The record of ``task_id``, or ``None`` when absent or unreadable."""
        return _read_json(self.record_path(task_id))

    def records(self) -> list[dict[str, Any]]:
        """Every valid record in the folder (temporary and corrupt files are skipped)."""
        if not self.records_dir.is_dir():
            return []
        found = []
        for path in sorted(self.records_dir.glob("*.json")):
            if path.name.startswith(TMP_PREFIX):
                continue
            record = _read_json(path)
            if record is not None and record.get("task_id") == path.stem:
                found.append(record)
        return found

    # running markers ------------------------------------------------------------
    def marker_path(self, task_id: str) -> Path:
        """Where the running marker of ``task_id`` lives."""
        return self.running_dir / f"{task_id}.json"

    def mark_running(self, task_id: str, **info: Any) -> None:
        """Create or refresh the marker of a running task (its heartbeat is now)."""
        marker = {
            "task_id": task_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "heartbeat": time.time(),
            **info,
        }
        atomic_write_json(self.marker_path(task_id), marker)

    def clear_running(self, task_id: str) -> None:
        """Remove the marker of ``task_id`` (no error if it is gone)."""
        self.marker_path(task_id).unlink(missing_ok=True)

    def read_marker(self, task_id: str) -> dict[str, Any] | None:
        """The marker of ``task_id`` as it is on disk (alive or not), or ``None``."""
        return _read_json(self.marker_path(task_id))

    def running(self) -> dict[str, dict[str, Any]]:
        """Markers of tasks that are alive: running (fresh heartbeat, and a live pid on
        this host) or queued in SLURM (one ``squeue`` call asks for all of them)."""
        markers: dict[str, dict[str, Any]] = {}
        if not self.running_dir.is_dir():
            return markers
        for path in self.running_dir.glob("*.json"):
            if path.name.startswith(TMP_PREFIX):
                continue
            marker = _read_json(path)
            if marker is not None:
                markers[path.stem] = marker
        queued = [m.get("slurm_job_id", "") for m in markers.values() if m.get("state") == "queued"]
        active = active_jobs(queued) if queued else set()
        return {
            task_id: marker
            for task_id, marker in markers.items()
            if marker_is_alive(marker, active_slurm_jobs=active)
        }

    def log_path(self, task_id: str) -> Path:
        """Where the log of ``task_id``'s process goes."""
        return self.logs_dir / f"{task_id}.log"

    def checkpoint_path(self, task_id: str) -> Path:
        """Where the checkpoint of ``task_id`` goes."""
        return self.checkpoints_dir / f"{task_id}.pt"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def marker_is_alive(
    marker: dict[str, Any], now: float | None = None, active_slurm_jobs: set[str] | None = None
) -> bool:
    """A marker is alive while its heartbeat is fresh (and, on this host, its pid runs).

    A ``queued`` marker (submitted to SLURM, not started) has no heartbeat: it is alive
    while its job is in ``active_slurm_jobs``, or always when that is ``None`` (SLURM
    could not be asked, so the job may still run).
    """
    if marker.get("state") == "queued":
        return active_slurm_jobs is None or str(marker.get("slurm_job_id")) in active_slurm_jobs
    now = time.time() if now is None else now
    if now - float(marker.get("heartbeat", 0)) > STALE_AFTER_S:
        return False
    if marker.get("host") == socket.gethostname() and "pid" in marker:
        return _pid_alive(int(marker["pid"]))
    return True
