"""``notmnist``: Bulatov's notMNIST, letters A–J rendered in many fonts.

Protocol (LRSC paper, "Dataset" and Table 2): sizes 1,000 / 5,000 / 10,000 with equal
counts per letter drawn by the run seed; pixels scaled to [0, 1]; 28×28 resized to
32×32. Two sources (the ``source`` parameter, recorded with each run):

* ``idx`` (default): the widely used MNIST-format conversion of a 10,000-image sample
  of ``notMNIST_small``, 1,000 per letter (what the mirror holds), so at size 10,000
  every seed sees the same images;
* ``png``: the upstream ``notMNIST_small`` layout, folders ``A/`` … ``J/`` of PNGs,
  either the folder ``notMNIST_small/`` or the archive ``notMNIST_small.tar.gz``.
  A few upstream PNGs are unreadable: they are skipped, counted and listed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmark.data import (
    INTERPOLATION,
    CorruptDataError,
    MissingDataError,
    UpstreamFile,
    balanced_indices,
    cached_image_pool,
    check_interpolation,
    fetch_file,
    find_local,
    image_bundle,
    locate,
    read_idx_pair,
)
from benchmark.plugins import DataBundle, DatasetInfo, Param

LETTERS = tuple("ABCDEFGHIJ")
_CONVERSION = "https://github.com/davidflanagan/notMNIST-to-MNIST/raw/master/"
IDX_FILES = {  # sha256: the files of davidflanagan/notMNIST-to-MNIST (commit 17823f4)
    role: UpstreamFile(
        "notmnist", name, (_CONVERSION + name,), {"sha256": sha256}, repacked_ok=True
    )
    for role, name, sha256 in (
        (
            "images",
            "t10k-images-idx3-ubyte.gz",
            "70ae9e06201f2827e5b0a3781a3169d735dd2efc69996b9eeaee7f10ed4044d7",
        ),
        (
            "labels",
            "t10k-labels-idx1-ubyte.gz",
            "1fa03836e01c862542f8eb83463bb951bebec6fcb3efa28dad748c6b38a9021b",
        ),
    )
}
_HOW_TO_GET_PNG = (
    "The upstream notMNIST_small.tar.gz (http://yaroslavvb.com/upload/notMNIST/) holds "
    "folders A/..J/ of 28x28 PNGs; put the archive or its extracted notMNIST_small/ folder "
    "in the notmnist/ folder of the data home or the mirror."
)
PNG_ARCHIVE = UpstreamFile(
    "notmnist",
    "notMNIST_small.tar.gz",
    ("http://yaroslavvb.com/upload/notMNIST/notMNIST_small.tar.gz",),
    how_to_get=_HOW_TO_GET_PNG,
)
PNG_FOLDER = UpstreamFile("notmnist", "notMNIST_small", how_to_get=_HOW_TO_GET_PNG)
SOURCES = ("idx", "png")
_PNG_NAME = re.compile(r"(?:^|/)([A-J])/([^/]+\.png)$")
_FIX = "Delete it and run `python -m benchmark fetch --datasets notmnist`."


def _png_entries(root: Path) -> Iterator[tuple[str, str, bytes]]:
    """(letter, file name, bytes) of every PNG in a notMNIST_small folder or tar.gz."""
    if root.is_dir():
        for path in sorted(root.rglob("*.png")):
            match = _PNG_NAME.search(path.relative_to(root).as_posix())
            if match:
                yield match[1], match[2], path.read_bytes()
        return
    try:
        with tarfile.open(root, "r:*") as archive:
            for member in archive:
                match = _PNG_NAME.search(member.name)
                handle = archive.extractfile(member) if match and member.isfile() else None
                if match and handle is not None:
                    yield match[1], match[2], handle.read()
    except (tarfile.TarError, zlib.error, EOFError) as exc:
        raise CorruptDataError(f"{root}: corrupt tar archive ({exc}). {_FIX}") from exc


def read_png_pool(root: str | os.PathLike) -> dict[str, np.ndarray]:
    """Images (N, 28, 28) uint8, labels 0..9 for A..J, and the ``skipped`` (unreadable)
    files of a notMNIST_small folder or archive, sorted by (letter, file name)."""
    from PIL import Image, UnidentifiedImageError  # here: declarations are read without Pillow

    root = Path(root)
    decoded: list[tuple[str, str, np.ndarray]] = []
    skipped: list[str] = []
    for letter, name, data in _png_entries(root):
        try:
            with Image.open(io.BytesIO(data)) as image:
                pixels = np.asarray(image.convert("L"))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            skipped.append(f"{letter}/{name}")
            continue
        if pixels.shape != (28, 28):
            skipped.append(f"{letter}/{name}")
            continue
        decoded.append((letter, name, pixels))
    decoded.sort(key=lambda entry: entry[:2])
    letters = {letter for letter, _, _ in decoded}
    if letters != set(LETTERS):
        raise CorruptDataError(
            f"{root}: no readable PNGs for letters {sorted(set(LETTERS) - letters)}; "
            f"expected folders A/..J/ of 28x28 PNGs. {_FIX}"
        )
    return {
        "images": np.stack([pixels for _, _, pixels in decoded]),
        "labels": np.array([LETTERS.index(letter) for letter, _, _ in decoded]),
        "skipped": np.array(sorted(skipped), dtype=str),
    }


def _folder_fingerprint(folder: Path) -> str:
    """A cheap fingerprint of a PNG folder: its file names, sizes and mtimes."""
    listing = sorted(
        f"{p.relative_to(folder).as_posix()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in folder.rglob("*.png")
    )
    return "listing:" + hashlib.sha256("\n".join(listing).encode()).hexdigest()


def _png_source() -> tuple[Path, dict[str, object], str]:
    folder = find_local(PNG_FOLDER)
    if folder is not None and folder[0].is_dir():
        record = {"path": str(folder[0]), "origin": folder[1], "verified": "content"}
        return folder[0], record, _folder_fingerprint(folder[0])
    try:
        archive = locate(PNG_ARCHIVE)
    except MissingDataError as exc:
        raise MissingDataError(f"{exc} Or use the MNIST-format sample: source=idx.") from exc
    return archive.path, archive.record(), archive.sha256


def load(
    n_points: int,
    seed: int,
    source: str,
    image_size: int,
    interpolation: str,
    meta_source: str,
) -> DataBundle:
    """``n_points`` images, ``n_points / 10`` per letter, drawn by ``seed`` from ``source``."""
    if source not in SOURCES:
        raise ValueError(f"notmnist: source must be one of {SOURCES}, got {source!r}")
    check_interpolation(interpolation)
    if source == "idx":
        located = {role: locate(file) for role, file in IDX_FILES.items()}
        records = {file.path.name: file.record() for file in located.values()}
        fingerprints = {role: file.sha256 for role, file in located.items()}

        def read() -> dict[str, np.ndarray]:
            images, labels = read_idx_pair(
                located["images"].path, located["labels"].path, dict.fromkeys(range(10), 1000), _FIX
            )
            return {"images": images, "labels": labels}

    else:
        root, record, fingerprint = _png_source()
        records, fingerprints = {root.name: record}, {"png": fingerprint}

        def read() -> dict[str, np.ndarray]:
            return read_png_pool(root)

    settings = {"source": source, "image_size": image_size}
    pool, digest = cached_image_pool("notmnist", fingerprints, settings, read)
    info = {
        "source": source,
        "files": records,
        "pool_size": len(pool["labels"]),
        "preprocessing": f"x/255, {INTERPOLATION} resize 28x28 -> {image_size}x{image_size}",
        "feature_cache": digest,
        "classes": list(LETTERS),
        "meta_source": meta_source,
    }
    if "skipped" in pool:
        info["unreadable_skipped"] = [str(name) for name in pool["skipped"]]
    indices = balanced_indices(pool["labels"], n_points, len(LETTERS), seed)
    return image_bundle(pool["images"], pool["labels"], indices, len(LETTERS), info)


def fetch() -> None:
    """Put the MNIST-format sample (the default source) into the data home."""
    for file in IDX_FILES.values():
        fetch_file(file)


DATASET = DatasetInfo(
    id="notmnist",
    name="notMNIST",
    kind="target",
    features="images",
    load=load,
    sizes=(1000, 5000, 10000),
    default_sizes=(1000, 5000, 10000),
    params={
        "source": Param(
            "idx",
            "choice: the MNIST-format sample of notMNIST_small with 1,000 per letter "
            "(matches the paper's 1,000 per class); 'png' reads the upstream folders",
        ),
        "image_size": Param(32, "paper: 'All images ... are resized to 32 x 32'"),
        "interpolation": Param(
            INTERPOLATION, "choice: the paper names none; Pillow's bilinear with antialiasing"
        ),
        "meta_source": Param(
            "miniimagenet",
            "paper: miniImageNet is the meta data of the image datasets; on the mirror use "
            "the substitutes 'mnist' or 'omniglot'",
        ),
    },
    fetch=fetch,
    dim=lambda image_size, **_: image_size * image_size,
    description="Letters A-J in many fonts, 28x28; equal-count subsamples by seed.",
)
