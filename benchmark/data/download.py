"""HTTP(S) download of one raw dataset file, verified before it becomes visible."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from benchmark.atomic import atomic_write
from benchmark.data.checks import CorruptDataError, DataError, checksum_mismatches

_CHUNK = 1 << 20
USER_AGENT = "subspace-bench (dataset fetch)"


class DownloadError(DataError):
    """The file could not be downloaded (network error, HTTP error)."""


def download(
    url: str, dest: str | os.PathLike, checksums: Mapping[str, str], timeout: float = 60.0
) -> dict[str, str]:
    """Download ``url`` to ``dest`` and return the file's digests.

    The bytes go to a temporary file next to ``dest``; it is renamed to ``dest`` only
    when every digest in ``checksums`` (hashlib names, e.g. ``md5``, ``sha256``) matches,
    so a failed or corrupt download never leaves a file that looks valid.
    """
    dest = Path(dest)
    names = tuple(dict.fromkeys(["sha256", *checksums]))
    digests: dict[str, str] = {}

    def write(handle: BinaryIO) -> None:
        hashers = {name: hashlib.new(name) for name in names}
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                while chunk := response.read(_CHUNK):
                    handle.write(chunk)
                    for hasher in hashers.values():
                        hasher.update(chunk)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise DownloadError(f"could not download {url}: {exc}") from exc
        digests.update({name: hasher.hexdigest() for name, hasher in hashers.items()})
        wrong = checksum_mismatches(digests, checksums)
        if wrong:
            raise CorruptDataError(
                f"download of {url} is corrupt ({'; '.join(wrong)}); it was discarded. "
                f"Try again later, or put the upstream file at {dest} by hand."
            )

    atomic_write(dest, write)
    return digests
