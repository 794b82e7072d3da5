"""What the data home holds, and its removal: every cache entry with its size, age, maker
and whether it is stale.

Kinds of entry (``<data home>`` is ``$SUBSPACE_BENCH_DATA``, default
``~/.cache/subspace-bench``):

* ``features``: preprocessed dataset arrays, ``features/<name>/<digest>/``
  (:mod:`benchmark.data.cache`);
* the deep methods' artefacts, ``deep/<kind>/<digest>.pt`` with a ``<digest>.json``
  sidecar (:mod:`benchmark.deep.artifact_cache`, :data:`~benchmark.deep.artifact_cache.KINDS`);
* ``raw``: upstream dataset files, ``<dataset>/<file>`` (``python -m benchmark fetch``);
  never stale, removed only when named (``--kind raw``).

An entry is stale when the current code would never read it again: its digest is not
that of its own key under the current cache format (it was made by an older format),
a ``code_version`` in its key is not a current one
(:data:`~benchmark.deep.artifact_cache.CODE_VERSIONS`), it is incomplete, or it is a
temporary file left by a writer that was killed. An entry whose lock is held (a task is
building it) is never removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.atomic import TMP_PREFIX
from benchmark.data.cache import MANIFEST, cache_key_digest, entry_lock
from benchmark.deep.artifact_cache import CODE_VERSIONS, KINDS, ArtifactCache, key_digest

FEATURES = "features"
DEEP = "deep"
RAW = "raw"
DESCRIPTIONS = {
    FEATURES: "preprocessed dataset arrays (feature cache)",
    **KINDS,
    RAW: "upstream dataset files (fetch); removed only with --kind raw",
}
"""Every kind of entry, as ``cache list`` names it."""
TEMPORARY_GRACE_S = 3600.0
"""A temporary file older than this, whose entry's lock nobody holds, was left by a
killed writer."""


@dataclass(frozen=True)
class CacheEntry:
    """One entry of the data home: what ``cache list`` shows and ``cache prune`` removes."""

    kind: str
    name: str
    paths: tuple[Path, ...]
    lock: Path | None
    size: int
    modified: float
    made_by: str | None = None
    stale: str | None = None

    def age_days(self, now: float | None = None) -> float:
        """Days since the entry was written."""
        return ((time.time() if now is None else now) - self.modified) / 86400.0


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _code_versions(key: Any) -> Iterator[Any]:
    """Every ``code_version`` value in a key, nested ones (a teacher's inside a
    meta-learner's key) included."""
    if isinstance(key, dict):
        for name, value in key.items():
            if name == "code_version":
                yield value
            else:
                yield from _code_versions(value)
    elif isinstance(key, list):
        for value in key:
            yield from _code_versions(value)


def _staleness(digest: str, key: Any, current_digest: str) -> str | None:
    """Why an entry filed under ``digest`` with ``key`` is stale, or ``None``."""
    if digest != current_digest:
        return "made by an older cache format (its key hashes differently now)"
    outdated = sorted(
        {str(v) for v in _code_versions(key)} - {str(v) for v in CODE_VERSIONS.values()}
    )
    if outdated:
        return f"made by older training code (code_version {', '.join(outdated)})"
    return None


def _temporary(kind: str, path: Path, lock: Path | None) -> CacheEntry:
    """A writer's temporary file or folder; stale once old enough."""
    modified = path.lstat().st_mtime
    old = time.time() - modified > TEMPORARY_GRACE_S
    reason = "temporary file left by an interrupted writer" if old else None
    return CacheEntry(kind, path.name, (path,), lock, _size(path), modified, None, reason)


def _feature_entries(root: Path) -> Iterator[CacheEntry]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(TMP_PREFIX):
                digest = entry.name[len(TMP_PREFIX) :].split(".")[0]
                yield _temporary(FEATURES, entry, entry.with_name(f".{digest}.lock"))
                continue
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            name = f"{folder.name}/{entry.name}"
            manifest = _read_json(entry / MANIFEST)
            modified = (entry / MANIFEST if manifest else entry).stat().st_mtime
            if manifest is None or "key" not in manifest:
                stale: str | None = "incomplete (no readable manifest)"
                made_by = None
            else:
                stale = _staleness(entry.name, manifest["key"], cache_key_digest(manifest["key"]))
                made_by = manifest.get("made_by")
            yield CacheEntry(
                FEATURES, name, (entry,), entry_lock(entry), _size(entry), modified, made_by, stale
            )


def _deep_key(path: Path) -> tuple[Any, str | None] | None:
    """``(key, made_by)`` of a deep entry: from its sidecar, else from the entry itself
    (entries made before sidecars existed; memory-mapped, so large ones load fast)."""
    about = _read_json(ArtifactCache.sidecar(path))
    if about is not None and "key" in about:
        return about["key"], about.get("made_by")
    try:
        import torch  # only for entries without a sidecar

        entry = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        return entry["key"], None
    except Exception:  # any unreadable entry is reported as such
        return None


def _deep_entries(root: Path) -> Iterator[CacheEntry]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.name.startswith(TMP_PREFIX):
                digest = path.name[len(TMP_PREFIX) :].split(".")[0]
                yield _temporary(folder.name, path, path.with_name(f".{digest}.lock"))
                continue
            if path.suffix != ".pt" or path.name.startswith("."):
                continue
            found = _deep_key(path)
            sidecar = ArtifactCache.sidecar(path)
            paths = (path, sidecar) if sidecar.exists() else (path,)
            size = sum(p.stat().st_size for p in paths)
            lock = ArtifactCache.lock_file(path)
            if found is None:
                stale: str | None = "unreadable (no key)"
                made_by = None
            else:
                key, made_by = found
                stale = _staleness(path.stem, key, key_digest(key))
            yield CacheEntry(
                folder.name, path.stem, paths, lock, size, path.stat().st_mtime, made_by, stale
            )


def _raw_entries(home: Path) -> Iterator[CacheEntry]:
    for folder in sorted(p for p in home.iterdir() if p.is_dir()):
        if folder.name in (FEATURES, DEEP) or folder.name.startswith("."):
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = str(path.relative_to(home))
            yield CacheEntry(RAW, name, (path,), None, path.stat().st_size, path.stat().st_mtime)


def scan(home: Path) -> list[CacheEntry]:
    """Every entry of the data home ``home`` (empty when it does not exist)."""
    if not home.is_dir():
        return []
    entries: list[CacheEntry] = []
    if (home / FEATURES).is_dir():
        entries += _feature_entries(home / FEATURES)
    if (home / DEEP).is_dir():
        entries += _deep_entries(home / DEEP)
    entries += _raw_entries(home)
    return entries


def is_locked(entry: CacheEntry) -> bool:
    """Whether a process holds the entry's lock now (it is being built)."""
    if entry.lock is None or not entry.lock.exists():
        return False
    with open(entry.lock, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def select(
    entries: Iterable[CacheEntry], kinds: Iterable[str] | None, older_than_days: float | None
) -> list[CacheEntry]:
    """What ``cache prune`` removes: among the entries of ``kinds`` (default: every kind but
    ``raw``), the stale ones and those older than ``older_than_days``; with ``kinds`` and
    no age, every entry of those kinds."""
    wanted = set(kinds) if kinds else set(DESCRIPTIONS) - {RAW}
    now = time.time()
    chosen = []
    for entry in entries:
        if entry.kind not in wanted:
            continue
        if older_than_days is not None:
            if entry.stale or entry.age_days(now) > older_than_days:
                chosen.append(entry)
        elif kinds or entry.stale:
            chosen.append(entry)
    return chosen


def remove(entry: CacheEntry) -> bool:
    """Remove ``entry`` under its lock; ``False`` (nothing removed) when a process holds
    the lock, i.e. a task is building or rewriting it."""
    with contextlib.ExitStack() as stack:
        if entry.lock is not None:
            handle = stack.enter_context(open(entry.lock, "a+b"))
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            stack.callback(fcntl.flock, handle.fileno(), fcntl.LOCK_UN)
        for path in entry.paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        if entry.lock is not None and not entry.paths[0].name.startswith(TMP_PREFIX):
            with contextlib.suppress(FileNotFoundError):  # the entry's, not a temporary's
                os.unlink(entry.lock)
    return True
