"""Cache of preprocessed arrays in the data home, keyed by everything they depend on.

An entry is a folder ``<data home>/features/<name>/<digest>/`` holding one ``.npy`` per
array and a ``manifest.json`` with the full key (and :data:`CACHE_FORMAT`, the date and the
task that made it). ``digest`` hashes the key: the raw
files' sha256, every preprocessing parameter and :data:`CACHE_FORMAT`, so a changed
file or parameter is a different entry. The entry is written under a temporary name and
renamed into place when complete, and builders of one entry take a lock, so parallel
workers build it once and never read a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.atomic import TMP_PREFIX, atomic_write, atomic_write_json, file_lock
from benchmark.data.home import data_home, entry_maker

CACHE_FORMAT = 1
"""Bumped when the layout of entries or a preprocessing step's code changes."""
MANIFEST = "manifest.json"


def cache_key_digest(key: Mapping[str, Any]) -> str:
    """Stable hex digest of a JSON-able key (tuples and lists hash alike)."""
    text = json.dumps({"format": CACHE_FORMAT, **key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _entry_dir(name: str, digest: str) -> Path:
    return data_home() / "features" / name / digest


def entry_lock(entry: Path) -> Path:
    """The lock file its builders (and ``cache prune``) hold while writing or removing it."""
    return entry.with_name(f".{entry.name}.lock")


def _read(entry: Path) -> dict[str, np.ndarray] | None:
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        return {
            array: np.load(entry / f"{array}.npy", mmap_mode="r", allow_pickle=False)
            for array in manifest["arrays"]
        }
    except (FileNotFoundError, NotADirectoryError):
        return None


def _write(entry: Path, key: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    partial = entry.with_name(f"{TMP_PREFIX}{entry.name}.{uuid.uuid4().hex[:8]}")
    partial.mkdir(parents=True)
    try:
        for array_name, array in arrays.items():
            atomic_write(partial / f"{array_name}.npy", lambda h, a=array: np.save(h, a))
        atomic_write_json(
            partial / MANIFEST,
            {
                "format": CACHE_FORMAT,
                "key": key,
                "arrays": sorted(arrays),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "made_by": entry_maker(),
            },
        )
        if entry.exists():  # an entry left unreadable (files removed by hand): replace it
            shutil.rmtree(entry)
        os.rename(partial, entry)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def cached_arrays(
    name: str,
    key: Mapping[str, Any],
    build: Callable[[], Mapping[str, np.ndarray]],
) -> tuple[dict[str, np.ndarray], str]:
    """The arrays cached under ``(name, key)``, built by ``build()`` on a miss.

    Returns ``(arrays, digest)``; arrays are read-only memory maps (index or copy them
    before changing them). ``key`` must hold every input of ``build``: raw-file sha256s
    and all preprocessing parameters.
    """
    digest = cache_key_digest(key)
    entry = _entry_dir(name, digest)
    arrays = _read(entry)
    if arrays is not None:
        return arrays, digest
    with file_lock(entry_lock(entry)):
        arrays = _read(entry)
        if arrays is None:
            _write(entry, key, {k: np.asarray(v) for k, v in build().items()})
            arrays = _read(entry)
    if arrays is None:
        raise OSError(f"feature cache entry {entry} vanished right after it was written")
    return arrays, digest
