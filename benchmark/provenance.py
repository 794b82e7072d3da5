"""Where and with what a result was computed: git commit, the project sources the task ran,
packages, machine, device."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import threadpoolctl

from benchmark.registry import PROJECT_ROOT

SOURCE_DIRS = ("benchmark", "methods", "datasets")
"""The project's runtime source folders (packages and plugin files)."""

PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "pandas", "cvxpy", "submitit")


def git_commit() -> str | None:
    """The checkout's commit, with ``-dirty`` when tracked files differ; ``None`` outside git."""
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


VECTOR_EXTENSIONS = ("avx512f", "avx2", "avx", "sse4_2", "neon", "asimd")
"""CPU flags, widest first, that decide which kernels torch and BLAS dispatch to."""


def cpu_description(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> dict[str, str | None]:
    """The CPU the arithmetic ran on: its model name (with vendor, family and model
    number, which tell generations apart in a virtual machine that names only a brand)
    and its widest vector extension.

    Results are bit-identical only on the same kind of CPU: torch (oneDNN) and OpenBLAS
    pick their kernels by instruction set, and kernels of another width sum in another
    order. Read from ``/proc/cpuinfo`` on Linux; elsewhere the model is
    ``platform.processor()`` and the extension ``None`` (unknown)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return {"model": platform.processor() or platform.machine(), "vector": None}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    vector = next((name for name in VECTOR_EXTENSIONS if name in flags), None)
    model = fields.get("model name") or fields.get("cpu model") or platform.processor()
    generation = " ".join(
        f"{label} {fields[key]}"
        for key, label in (("vendor_id", ""), ("cpu family", "family"), ("model", "model"))
        if fields.get(key)
    ).strip()
    if generation:
        model = f"{model} ({generation})"
    return {"model": model or platform.machine(), "vector": vector}


@functools.lru_cache(maxsize=1)
def _static_provenance() -> dict[str, Any]:
    return {
        "git_commit": git_commit(),
        "packages": {name: _version(name) for name in PACKAGES},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu": cpu_description(),
    }


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_counts() -> dict[str, Any]:
    """The threads the task's arithmetic ran on: BLAS and OpenMP pools as loaded, torch's
    intra-op threads, and the environment variables that set them.

    Results on the CPU are bit-identical only at the same counts (BLAS splits sums by
    thread), so ``benchmark verify`` reruns a record at its recorded ``blas`` count.
    """
    pools: dict[str, int] = {}
    for pool in threadpoolctl.threadpool_info():
        api = pool["user_api"]
        pools[api] = max(pools.get(api, 0), int(pool["num_threads"]))
    torch = sys.modules.get("torch")
    return {
        "blas": pools.get("blas"),
        "openmp": pools.get("openmp"),
        "torch": torch.get_num_threads() if torch is not None else None,
        "env": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }


def source_digest(paths: Sequence[str], root: str | os.PathLike = PROJECT_ROOT) -> str | None:
    """A digest of the relative path and bytes of each file (in the given order);
    ``None`` when one of them no longer exists."""
    digest = hashlib.sha256()
    for relative in paths:
        path = Path(root) / relative
        if not path.is_file():
            return None
        digest.update(relative.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def loaded_sources() -> dict[str, Any]:
    """The project sources this process has imported (every ``*.py`` of ``SOURCE_DIRS``
    in ``sys.modules``: the engine modules and the plugin files a task ran), as sorted
    paths relative to the project root, with their :func:`source_digest`.

    Read at the end of a task, this is the code the result depends on (and a little
    more: the worker's own modules); editing any other file (the CLI, ``verify``, the
    tables) leaves it unchanged."""
    root = Path(PROJECT_ROOT).resolve()
    files = set()
    for module in list(sys.modules.values()):
        where = getattr(module, "__file__", None)
        if not where or not where.endswith(".py"):
            continue
        try:
            relative = Path(where).resolve().relative_to(root)
        except ValueError:
            continue
        if relative.parts[0] in SOURCE_DIRS:
            files.add(relative.as_posix())
    paths = sorted(files)
    return {"files": paths, "digest": source_digest(paths)}


def provenance() -> dict[str, Any]:
    """Provenance fields of a record (device, threads and sources are read when called:
    torch and the plugins load late)."""
    return {
        **_static_provenance(),
        "device": _device(),
        "threads": thread_counts(),
        "sources": loaded_sources(),
    }
