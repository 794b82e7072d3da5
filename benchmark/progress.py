"""A running task's progress, read from its log: what the run display and ``status`` show.

The worker logs progress at INFO (``benchmark.worker`` configures the format
``<date> <time> <logger>: <message>``): the deep core per epoch with the objective and
the time left, the teacher and the meta-learner per epoch or step, ClusterGAN per
iteration. Whatever writes there, the latest such line is the task's progress; reading
the log's tail works the same for a local child process and a SLURM array job (the log
is on the shared filesystem), and costs one small read per poll.
"""

from __future__ import annotations

import re
from pathlib import Path

TAIL_BYTES = 4096
"""How much of a log's end is read: a progress line is far shorter."""
PROGRESS_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?:benchmark\.)?([\w.]+): (.+)$")
"""A line of the worker's log format; group 1 the logger (without ``benchmark.``)."""
PARENTHESES = re.compile(r" \([^()]*\)")


def latest_progress(log_path: Path, max_chars: int = 90) -> str | None:
    """The message of the last logged line of ``log_path``, as ``<logger>: <message>``,
    shortened to ``max_chars`` (parenthesised details dropped first).

    ``None`` when the log does not exist yet or holds no logged line (only the attempt
    header or a traceback).
    """
    try:
        with open(log_path, "rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(size - TAIL_BYTES, 0))
            tail = log.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    for line in reversed(tail.splitlines()):
        match = PROGRESS_LINE.match(line.strip())
        if match:
            message = f"{match.group(1).rsplit('.', 1)[-1]}: {match.group(2)}"
            if len(message) > max_chars:  # the per-term breakdown goes first, the time left stays
                message = PARENTHESES.sub("", message)
            return message if len(message) <= max_chars else message[: max_chars - 1] + "…"
    return None


def status_line(counts: dict[str, int], running: list[tuple[str, Path]], limit: int = 3) -> str:
    """One display line: counts of finished tasks by status, then ``label progress`` of
    the first ``limit`` tasks of ``running`` (label and log path) that have logged any
    (queued SLURM tasks have not)."""
    done = ", ".join(f"{status}={count}" for status, count in counts.items() if count)
    progress = [
        f"{label} {latest}"
        for label, log_path in running
        if (latest := latest_progress(log_path)) is not None
    ][:limit]
    return "; ".join([done, *progress] if done else progress)
