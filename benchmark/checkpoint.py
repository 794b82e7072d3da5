"""Checkpoints for long tasks: save state every N steps, resume from it when rerun.

The runner gives a task's estimator a :class:`Checkpoint` (when its ``__init__`` takes
a ``checkpoint`` argument) pointing at ``OUT/checkpoints/<task_id>.pt``; the same path
is used by a rerun, a requeued SLURM job or a resumed sweep. The file is removed once
the task's record is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from benchmark.atomic import atomic_write


class Checkpoint:
    """A task's resumable state in one file, written atomically.

    ``every`` is the number of steps between saves that estimators should honour
    (see :meth:`due`).
    """

    def __init__(self, path: str | Path, every: int = 50) -> None:
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1, got {every}")
        self.path = Path(path)
        self.every = every

    def due(self, step: int) -> bool:
        """True when ``step`` (counted from 1) is a multiple of the interval."""
        return step > 0 and step % self.every == 0

    def save(self, state: dict[str, Any]) -> None:
        """Store ``state`` (tensors, arrays, numbers; anything ``torch.save`` takes)."""
        atomic_write(self.path, lambda handle: torch.save(state, handle))

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or ``None`` when there is none."""
        if not self.path.exists():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=False)

    def clear(self) -> None:
        """Remove the saved state (called once the task is recorded)."""
        self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r}, every={self.every})"
