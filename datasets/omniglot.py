"""``omniglot``: Lake et al.'s Omniglot handwritten characters, a meta (external) data
substitute for LRSC.

The paper's meta data for the image datasets is miniImageNet; the official Omniglot
background archives stand in when it cannot be had (``--set meta_source=omniglot``).
A class is one character of one alphabet. The 105×105 binary drawings are inverted
(ink 1, paper 0, like MNIST and notMNIST), then resized to 1×32×32 as the targets are.
Archives that repeat alphabets (the two small background sets share Greek and Latin)
contribute each drawing once.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from benchmark.data import (
    INTERPOLATION,
    CorruptDataError,
    UpstreamFile,
    cached_image_pool,
    check_interpolation,
    fetch_file,
    image_bundle,
    locate,
    subset_indices,
    verify_counts,
)
from benchmark.plugins import DataBundle, DatasetInfo, Param

_REPO = "https://github.com/brendenlake/omniglot/raw/master/python/"
ARCHIVES = {
    # name -> (sha256 of brendenlake/omniglot's file at 057f034 or None, images, characters)
    "images_background_small1.zip": (
        "f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4",
        2720,
        136,
    ),
    "images_background_small2.zip": (
        "3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f",
        3120,
        156,
    ),
    "images_background.zip": (None, 19280, 964),
    "images_evaluation.zip": (None, 13180, 659),
}
FILES = {
    name: UpstreamFile("omniglot", name, (_REPO + name,), {"sha256": sha} if sha else {})
    for name, (sha, _, _) in ARCHIVES.items()
}
_DRAWING = re.compile(r"^[^/]+/([^/]+)/(character\d+)/([^/]+\.png)$")
_FIX = "Delete it and run `python -m benchmark fetch --datasets omniglot`."


def read_archive(path: Path) -> dict[tuple[str, str, str], np.ndarray]:
    """{(alphabet, character, file name): ink image uint8 105×105} of one background zip;
    the numbers of drawings and characters are checked against the official archive's."""
    from PIL import Image  # here: declarations are read without Pillow

    drawings: dict[tuple[str, str, str], np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                match = _DRAWING.match(member)
                if match:
                    with Image.open(io.BytesIO(archive.read(member))) as image:
                        drawings[match.groups()] = 255 - np.asarray(image.convert("L"))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise CorruptDataError(f"{path}: corrupt zip archive ({exc}). {_FIX}") from exc
    _, n_images, n_characters = ARCHIVES[path.name]
    found = {"drawings": len(drawings), "characters": len({key[:2] for key in drawings})}
    verify_counts(path, found, {"drawings": n_images, "characters": n_characters}, _FIX)
    return drawings


def load(
    n_points: int,
    seed: int,
    archives: tuple[str, ...],
    image_size: int,
    interpolation: str,
    characters: int = 0,
) -> DataBundle:
    """``n_points`` drawings drawn uniformly by ``seed`` from the union of ``archives``;
    with ``characters`` = k > 0, from k characters drawn by ``seed`` (a k-cluster task, the
    way the other image sets are 10-cluster ones), labels 0..k-1."""
    unknown = sorted(set(archives) - set(ARCHIVES))
    if unknown or not archives:
        raise ValueError(f"omniglot: archives must be among {sorted(ARCHIVES)}, got {archives}")
    if not isinstance(characters, int) or characters < 0:
        raise ValueError(f"omniglot: characters must be an integer >= 0, got {characters!r}")
    check_interpolation(interpolation)
    located = {name: locate(FILES[name]) for name in archives}

    def read() -> dict[str, np.ndarray]:
        drawings: dict[tuple[str, str, str], np.ndarray] = {}
        for file in located.values():
            drawings.update(read_archive(file.path))
        keys = sorted(drawings)
        characters = sorted({key[:2] for key in keys})
        index = {character: i for i, character in enumerate(characters)}
        return {
            "images": np.stack([drawings[key] for key in keys]),
            "labels": np.array([index[key[:2]] for key in keys]),
            "characters": np.array(["/".join(c) for c in characters], dtype=str),
        }

    fingerprints = {name: file.sha256 for name, file in located.items()}
    settings = {"archives": sorted(archives), "image_size": image_size}
    pool, digest = cached_image_pool("omniglot", fingerprints, settings, read)
    n_classes = len(pool["characters"])
    info = {
        "files": {name: file.record() for name, file in located.items()},
        "pool_size": len(pool["labels"]),
        "preprocessing": (
            f"inverted (ink 1), {INTERPOLATION} resize 105x105 -> {image_size}x{image_size}"
        ),
        "feature_cache": digest,
        "n_characters": n_classes,
    }
    labels = pool["labels"]
    if characters == 0:
        indices = subset_indices(len(labels), n_points, seed)
        return image_bundle(pool["images"], labels, indices, n_classes, info)
    if characters > n_classes:
        raise ValueError(f"omniglot: characters={characters}, but the archives hold {n_classes}")
    chosen = np.sort(np.random.default_rng(seed).choice(n_classes, characters, replace=False))
    members = np.flatnonzero(np.isin(labels, chosen))
    if n_points > members.size:
        raise ValueError(
            f"omniglot: {characters} characters have {members.size} drawings, fewer than "
            f"n_points={n_points}; ask for at most {members.size} (20 per character)"
        )
    indices = members[subset_indices(members.size, n_points, seed)]
    relabelled = np.searchsorted(chosen, labels)  # chosen character i -> label i
    info["characters_chosen"] = [str(pool["characters"][c]) for c in chosen]
    return image_bundle(pool["images"], relabelled, indices, characters, info)


def fetch() -> None:
    """Put the default archives (the two small background sets) into the data home."""
    for name in DATASET.params["archives"].value:
        fetch_file(FILES[name])


DATASET = DatasetInfo(
    id="omniglot",
    name="Omniglot background (meta data)",
    kind="meta",
    features="images",
    load=load,
    default_sizes=(4840,),
    params={
        "archives": Param(
            ("images_background_small1.zip", "images_background_small2.zip"),
            "choice: the official background subsets the mirror holds (4,840 drawings, "
            "242 characters); add images_background.zip for all 964 characters",
        ),
        "image_size": Param(32, "paper: the target images are resized to 32 x 32; same view"),
        "interpolation": Param(INTERPOLATION, "choice: the same resize as the targets"),
        "characters": Param(
            0,
            "choice: 0 = every character (meta data); k > 0 draws k characters by the seed, "
            "a k-cluster task for choosing settings across image datasets",
        ),
    },
    fetch=fetch,
    description="Handwritten characters of 50 alphabets; meta-data substitute for miniImageNet.",
)
