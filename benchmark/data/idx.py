"""Reader of the idx format of MNIST-style files (optionally gzip-compressed).

Format (LeCun's MNIST page): two zero bytes, a type code, the number of dimensions,
then each dimension as a big-endian uint32, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from benchmark.data.checks import CorruptDataError

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    if not gzipped:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptDataError(
            f"{path}: corrupt gzip archive ({exc}); delete it and fetch it again"
        ) from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in the idx file at ``path`` (``.gz`` or not), native byte order."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise CorruptDataError(f"{path}: not an idx file (bad magic number {data[:4].hex()})")
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise CorruptDataError(
            f"{path}: idx data has {len(data) - header} bytes, the header {shape} needs "
            f"{expected}; the file is truncated or corrupt, delete it and fetch it again"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
