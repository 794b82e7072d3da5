"""Verification of raw dataset files: checksums and content counts, with errors that say
which file is wrong and what to do about it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

_CHUNK = 1 << 20
_digest_memo: dict[tuple[str, int, int, tuple[str, ...]], dict[str, str]] = {}


class DataError(RuntimeError):
    """A dataset file is missing, unreadable or not the expected one."""


class MissingDataError(DataError, FileNotFoundError):
    """A dataset file is in neither the data home nor the mirror and cannot be downloaded."""


class CorruptDataError(DataError, ValueError):
    """A dataset file exists but its checksum or content is wrong."""


def file_digests(
    path: str | os.PathLike, algorithms: tuple[str, ...] = ("sha256",)
) -> dict[str, str]:
    """Hex digests of the file at ``path`` for each hashlib ``algorithms`` name (one pass).

    Results are remembered per process for an unchanged file (same size and mtime).
    """
    path = Path(path)
    stat = path.stat()
    memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, tuple(sorted(algorithms)))
    if memo_key in _digest_memo:
        return dict(_digest_memo[memo_key])
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    digests = {name: hasher.hexdigest() for name, hasher in hashers.items()}
    _digest_memo[memo_key] = digests
    return dict(digests)


def checksum_mismatches(digests: Mapping[str, str], expected: Mapping[str, str]) -> list[str]:
    """Human-readable lines for each expected digest that ``digests`` does not match."""
    return [
        f"{name} is {digests.get(name)}, expected {value}"
        for name, value in expected.items()
        if digests.get(name) != value.lower()
    ]


def verify_counts(
    what: str | os.PathLike, counts: Mapping[str, int], expected: Mapping[str, int], fix: str
) -> None:
    """Raise :class:`CorruptDataError` unless ``counts`` equals ``expected`` class by class.

    ``what`` names the file or folder checked, ``fix`` says what the user should do.
    """
    counts, expected = dict(counts), dict(expected)
    if counts == expected:
        return
    wrong = [
        f"{name}: {counts.get(name, 0)} (expected {expected.get(name, 0)})"
        for name in sorted(set(counts) | set(expected))
        if counts.get(name, 0) != expected.get(name, 0)
    ]
    shown = "; ".join(wrong[:8]) + ("; ..." if len(wrong) > 8 else "")
    raise CorruptDataError(f"{what}: unexpected content, per-class counts differ: {shown}. {fix}")
