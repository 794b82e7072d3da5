"""Where dataset files live: the data home and the optional read-only mirror.

Both are read from environment variables at call time (the CLI sets them from
``--data-home`` and ``--mirror``), so a change made after import is honoured.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_HOME_ENV = "SUBSPACE_BENCH_DATA"
"""Folder that holds fetched raw files and the feature cache."""
MIRROR_ENV = "SUBSPACE_BENCH_MIRROR"
"""Read-only folder of upstream files, laid out as ``<dataset>/<file>``."""
MAKER_ENV = "SUBSPACE_BENCH_TASK"
"""The task running in this process (set by the worker); cache entries record it as the
one that made them (``python -m benchmark cache list --verbose``)."""


def entry_maker() -> str | None:
    """What is making a cache entry now: the running task's label, if known."""
    return os.environ.get(MAKER_ENV) or None


def data_home() -> Path:
    """The data home: ``$SUBSPACE_BENCH_DATA``, else ``$XDG_CACHE_HOME/subspace-bench``,
    else ``~/.cache/subspace-bench``."""
    explicit = os.environ.get(DATA_HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "subspace-bench"


def mirror_dir() -> Path | None:
    """The mirror folder from ``$SUBSPACE_BENCH_MIRROR``, or ``None`` when unset."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value).expanduser() if value else None
