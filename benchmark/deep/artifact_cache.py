"""Cache of trained artefacts of the deep methods: pretrained auto-encoders, fine-tuned C.

* Pretrained auto-encoders are shared by every method that starts from the same
  pretraining (DSCN-L1, DSCN-L2, DASC and DPSC on the same data, size and seed). The key
  holds the data itself (a digest of the array, which pins dataset, size, seed and
  preprocessing), the architecture, the initialisation, the seed and the pretraining
  objective with its schedule.
* Fine-tuned coefficient matrices are shared by the variants of one method that differ
  only in how C is read out (with and without DSC-Net post-processing): the key is the
  pretraining key plus every fine-tuning setting, and no post-processing setting.

Entries live in ``<data home>/deep/<kind>/<digest>.pt`` (``SUBSPACE_BENCH_DATA``; or
under ``$SUBSPACE_BENCH_ARTIFACTS`` when set: ``verify`` points its reruns at an empty
folder so that they train again instead of reading what the checked runs made), are
written atomically, and builders of one entry hold a file lock, so concurrent tasks
(parallel workers, SLURM array jobs on a shared filesystem) build each entry once and
never read a half-written one. Beside each entry, ``<digest>.json`` says what it is
without loading it (kind, key, :data:`CACHE_FORMAT`, date, the task that made it), for
``python -m benchmark cache``.

A key holds the version of the code that made the entry: :data:`CACHE_FORMAT` for every
kind (hashed into the digest) and, for the kinds in :data:`CODE_VERSIONS`, the version of
the training code (the key's ``code_version``). Changing either makes new keys, so a code
change never serves an old entry; ``cache prune`` recognises the old ones as stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.atomic import atomic_write, atomic_write_json, file_lock
from benchmark.data.home import data_home, entry_maker

ARTIFACTS_ENV = "SUBSPACE_BENCH_ARTIFACTS"
"""Folder of the deep artefacts when set (default: ``<data home>/deep``)."""
CACHE_FORMAT = 1
"""Bumped when what an entry holds, or the training code behind it, changes meaning."""
KINDS = {
    "pretrained": "pretrained auto-encoders (shared by the DSC-Net-based methods)",
    "coefficients": "fine-tuned self-expression coefficients C (shared by readouts)",
    "teachers": "LRSC's cross-fitted teacher networks on meta data",
    "teacher-features": "LRSC teacher features of a target",
    "meta-learners": "LRSC's meta-learned auto-encoders (Algorithm 1)",
    "clustergan": "ClusterGAN trainings with their snapshots (shared by readouts)",
}
"""The kinds of entry the deep methods make, and what each holds."""
CODE_VERSIONS: dict[str, str | int] = {
    "teachers": "teacher-1",
    "meta-learners": "lrsc-meta-learning-1",
    "clustergan": 1,
}
"""The version of the training code behind each kind that has one, written into the keys
as ``code_version`` (:mod:`benchmark.deep.teacher`, :mod:`benchmark.deep.lrsc`, ClusterGAN's
estimator). Bump it whenever a change to that code changes what an entry means."""


def artifact_root() -> Path:
    """Where the deep artefacts live: ``$SUBSPACE_BENCH_ARTIFACTS``, else ``<data home>/deep``."""
    explicit = os.environ.get(ARTIFACTS_ENV)
    return Path(explicit).expanduser() if explicit else data_home() / "deep"


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    contiguous = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{contiguous.dtype.str}{contiguous.shape}".encode())
    digest.update(memoryview(contiguous).cast("B"))
    return digest.hexdigest()


def key_digest(key: Mapping[str, Any]) -> str:
    """Stable digest of a JSON-able key (tuples and lists hash alike)."""
    text = json.dumps({"format": CACHE_FORMAT, **key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class ArtifactCache:
    """Entries of one kind (``pretrained`` or ``coefficients``) under the data home."""

    def __init__(self, kind: str, root: Path | None = None) -> None:
        self.folder = (root if root is not None else artifact_root()) / kind

    def path(self, key: Mapping[str, Any]) -> Path:
        """File of the entry for ``key``."""
        return self.folder / f"{key_digest(key)}.pt"

    @staticmethod
    def sidecar(path: Path) -> Path:
        """The small JSON file beside entry ``path`` that says what it is."""
        return path.with_suffix(".json")

    @staticmethod
    def lock_file(path: Path) -> Path:
        """The lock file its builders (and ``cache prune``) hold while writing or removing it."""
        return path.with_name(f".{path.stem}.lock")

    def load(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored entry for ``key``, or ``None``."""
        path = self.path(key)
        if not path.exists():
            return None
        import torch  # here: listing and sizing the cache needs no PyTorch

        entry = torch.load(path, map_location="cpu", weights_only=False)
        if entry.get("key") != json.loads(json.dumps(key, default=str)):
            raise RuntimeError(
                f"cache entry {path} does not hold the key it is filed under; delete the file"
            )
        return entry["value"]

    def store(self, key: Mapping[str, Any], value: dict[str, Any]) -> None:
        """Write ``value`` for ``key`` atomically (streamed: no copy in memory)."""
        import torch

        plain_key = json.loads(json.dumps(key, default=str))
        entry = {"key": plain_key, "value": value}
        path = atomic_write(self.path(key), lambda handle: torch.save(entry, handle))
        about = {"kind": self.folder.name, "format": CACHE_FORMAT, "key": plain_key}
        about.update(created=time.strftime("%Y-%m-%dT%H:%M:%S"), made_by=entry_maker())
        atomic_write_json(self.sidecar(path), about)

    @contextmanager
    def locked(self, key: Mapping[str, Any]) -> Iterator[None]:
        """Hold the builder's lock of ``key``'s entry for the block."""
        with file_lock(self.lock_file(self.path(key))):
            yield

    def get_or_build(
        self, key: Mapping[str, Any], build: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """``(value, hit)``: the entry for ``key``, built by ``build()`` and stored on a miss."""
        value = self.load(key)
        if value is not None:
            return value, True
        with self.locked(key):
            value = self.load(key)
            if value is not None:
                return value, True
            value = build()
            self.store(key, value)
        return value, False
