"""What SLURM's queue says about job ids: which of them are still pending or running.

The store asks this about tasks that were submitted to SLURM but have not started yet
(``queued`` markers), so that a rerun never submits such a task twice. One ``squeue``
call answers for all ids at once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

SQUEUE_TIMEOUT_S = 60
FINISHED_STATES = frozenset({
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED",
    "NODE_FAIL", "OUT_OF_MEMORY", "REVOKED", "SPECIAL_EXIT", "TIMEOUT",
})  # fmt: skip
"""Job states after which a job never runs again (any other state counts as active)."""


def parse_squeue(text: str) -> set[str]:
    """Ids of active jobs in ``squeue -h -r -o '%i|%T'`` output (array tasks as ``123_4``)."""
    active = set()
    for line in text.splitlines():
        job_id, sep, state = line.strip().partition("|")
        if sep and state.split()[0] not in FINISHED_STATES:
            active.add(job_id)
    return active


def active_jobs(job_ids: Iterable[str]) -> set[str] | None:
    """Those of ``job_ids`` that SLURM lists as pending, running or requeued.

    ``None`` when SLURM cannot be asked (no ``squeue`` here, controller down): the caller
    should then assume the jobs may still run.
    """
    main_ids = sorted({str(job_id).split("_")[0] for job_id in job_ids})
    if not main_ids:
        return set()
    command = ["squeue", "--noheader", "--array", "--format=%i|%T", "--jobs", ",".join(main_ids)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=SQUEUE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        # Every id finished long enough ago that the controller forgot it.
        return set() if "Invalid job id" in result.stderr else None
    return parse_squeue(result.stdout)
