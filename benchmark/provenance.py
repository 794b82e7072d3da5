"""Where and with what a result was computed: git commit, packages, machine, device."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import socket
import subprocess
import sys
from typing import Any

from benchmark.registry import PROJECT_ROOT

PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "pandas", "cvxpy", "submitit")


def _git_commit() -> str | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _device() -> str:
    if "torch" not in sys.modules:
        return "cpu"
    torch = sys.modules["torch"]
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"


@functools.lru_cache(maxsize=1)
def _static_provenance() -> dict[str, Any]:
    return {
        "git_commit": _git_commit(),
        "packages": {name: _version(name) for name in PACKAGES},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
    }


def provenance() -> dict[str, Any]:
    """Provenance fields of a record (the device is read when called: torch may load late)."""
    return {**_static_provenance(), "device": _device()}
