"""Finding a raw dataset file: the data home, then the mirror, then the upstream URLs.

Files live at ``<root>/<dataset folder>/<file name>`` in both the data home and the
mirror. A file with published upstream checksums is checked against them wherever it
is found; a file without (or a re-packed archive, where ``repacked_ok``) is checked
by its reader, which counts what is inside.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.atomic import TMP_PREFIX, atomic_write, file_lock
from benchmark.data.checks import (
    CorruptDataError,
    DataError,
    MissingDataError,
    checksum_mismatches,
    file_digests,
)
from benchmark.data.download import download
from benchmark.data.home import DATA_HOME_ENV, MIRROR_ENV, data_home, mirror_dir


@dataclass(frozen=True)
class UpstreamFile:
    """One raw file a dataset needs, and how to get and check it.

    ``checksums`` are the upstream's published digests (hashlib names to hex); empty
    when the upstream publishes none. ``repacked_ok``: a local copy whose bytes differ
    from the upstream (a re-packed archive) is accepted, because its reader verifies
    the content. ``how_to_get`` is shown when the file is missing and has no URL.
    """

    dataset: str
    name: str
    urls: tuple[str, ...] = ()
    checksums: Mapping[str, str] = field(default_factory=dict)
    repacked_ok: bool = False
    how_to_get: str = ""

    def home_path(self) -> Path:
        """Where the file belongs in the data home."""
        return data_home() / self.dataset / self.name

    def mirror_path(self) -> Path | None:
        """Where the file would be in the mirror (``None`` without a mirror)."""
        mirror = mirror_dir()
        return None if mirror is None else mirror / self.dataset / self.name


@dataclass(frozen=True)
class LocatedFile:
    """A raw file found (or downloaded) and checked: what to record about it."""

    path: Path
    origin: str
    sha256: str
    verified: str

    def record(self) -> dict[str, Any]:
        """Plain-data provenance for :attr:`DataBundle.info`."""
        return {
            "path": str(self.path),
            "origin": self.origin,
            "sha256": self.sha256,
            "verified": self.verified,
        }


def _fetch_hint(file: UpstreamFile) -> str:
    return f"run `python -m benchmark fetch --datasets {file.dataset}`"


def _check(file: UpstreamFile, path: Path, origin: str) -> LocatedFile:
    digests = file_digests(path, tuple(dict.fromkeys(["sha256", *file.checksums])))
    if not file.checksums:
        return LocatedFile(path, origin, digests["sha256"], "content (checked by the reader)")
    wrong = checksum_mismatches(digests, file.checksums)
    if not wrong:
        return LocatedFile(path, origin, digests["sha256"], "upstream checksum")
    if file.repacked_ok:
        return LocatedFile(
            path, origin, digests["sha256"], "content (re-packed archive, checked by the reader)"
        )
    source = f" ({' or '.join(file.urls)})" if file.urls else ""
    raise CorruptDataError(
        f"{path}: checksum error, {'; '.join(wrong)}. The file is corrupt or not the upstream "
        f"one. Delete it and {_fetch_hint(file)}, or replace it with the upstream file{source}."
    )


def find_local(file: UpstreamFile) -> tuple[Path, str] | None:
    """The file (or folder) of that name in the data home, else the mirror, with its origin."""
    mirror = file.mirror_path()
    for path, origin in ((file.home_path(), "data home"), (mirror, "mirror")):
        if path is not None and path.exists():
            return path, origin
    return None


def missing_message(file: UpstreamFile, attempts: list[str] | None = None) -> str:
    """What to tell the user when ``file`` is nowhere to be found."""
    places = [str(file.home_path())]
    mirror = file.mirror_path()
    places.append(str(mirror) if mirror else f"(no mirror: set {MIRROR_ENV} or --mirror)")
    lines = [f"dataset file {file.dataset}/{file.name} not found; looked in: {', '.join(places)}."]
    if attempts:
        lines.append("Download failed: " + " | ".join(attempts) + ".")
    if file.urls:
        lines.append(
            f"Fix: {_fetch_hint(file)} on a machine with internet, or download "
            f"{file.urls[0]} and put it at {file.home_path()} "
            f"(the data home is set by {DATA_HOME_ENV} or --data-home)."
        )
    if file.how_to_get:
        lines.append(file.how_to_get)
    return " ".join(lines)


def locate(file: UpstreamFile) -> LocatedFile:
    """Find ``file`` in the data home or the mirror (checked), else download it into the
    data home from its URLs; :class:`MissingDataError` when all of that fails."""
    found = find_local(file)
    if found is not None:
        return _check(file, *found)
    if not file.urls:
        raise MissingDataError(missing_message(file))
    dest = file.home_path()
    failures: list[DataError] = []
    with file_lock(dest.with_name(f".{dest.name}.lock")):
        if dest.exists():
            return _check(file, dest, "data home")
        for url in file.urls:
            try:
                digests = download(url, dest, file.checksums)
            except DataError as exc:
                failures.append(exc)
                continue
            verified = "upstream checksum" if file.checksums else "content (checked by the reader)"
            return LocatedFile(dest, f"download: {url}", digests["sha256"], verified)
    message = missing_message(file, [str(exc) for exc in failures])
    if any(isinstance(exc, CorruptDataError) for exc in failures):
        raise CorruptDataError(message)
    raise MissingDataError(message)


def fetch_file(file: UpstreamFile) -> LocatedFile:
    """Make sure ``file`` is in the data home: keep it, copy it from the mirror, or download it."""
    found = find_local(file)
    if found is None or found[1] == "data home":
        return locate(file)
    source = _check(file, *found)
    dest = file.home_path()
    with file_lock(dest.with_name(f".{dest.name}.lock")):
        if source.path.is_dir():
            if not dest.exists():
                partial = dest.with_name(f"{TMP_PREFIX}{dest.name}.{os.getpid()}")
                shutil.copytree(source.path, partial)
                os.replace(partial, dest)
        else:
            with open(source.path, "rb") as src:
                atomic_write(dest, lambda handle: shutil.copyfileobj(src, handle))
    return _check(file, dest, "data home")
