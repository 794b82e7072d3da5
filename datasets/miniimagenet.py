"""``miniimagenet``: miniImageNet (Vinyals et al. 2016), the paper's meta (external) data
for the image datasets.

There is no official download: ImageNet's terms require each user to get it. It is read
from local files in its two common distribution formats, per split (``train``: 64
classes, ``val``: 16, ``test``: 20; 600 images each), in ``miniimagenet/`` of the data
home or the mirror:

* the pickles ``mini-imagenet-cache-<split>.pkl``: a dict with ``image_data``, uint8
  (N, 84, 84, 3), and ``class_dict``, class name → list of row indices (read with an
  unpickler that only allows numpy arrays);
* folders ``<split>/<class>/*.jpg`` (or .png); images that are not 84×84 are first
  resized to 84×84 with Pillow's bilinear filter, the miniImageNet resolution.

The colour images become the targets' view: ITU-R 601-2 luma gray in [0, 1], resized
84×84 → 32×32 (bilinear, antialiased), one channel.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data import (
    INTERPOLATION,
    CorruptDataError,
    MissingDataError,
    UpstreamFile,
    cached_image_pool,
    check_interpolation,
    file_digests,
    find_local,
    image_bundle,
    missing_message,
    subset_indices,
)
from benchmark.plugins import DataBundle, DatasetInfo, Param

SPLIT_CLASSES = {"train": 64, "val": 16, "test": 20}
"""Classes per split of Ravi & Larochelle's split (600 images each)."""
IMAGES_PER_CLASS = 600
RESOLUTION = 84
HOW_TO_GET = (
    "miniImageNet has no official download (ImageNet's terms apply). Get it through "
    "ImageNet (https://image-net.org) and Ravi & Larochelle's split, or a copy of the common "
    "pickles mini-imagenet-cache-{train,val,test}.pkl, and put the pickles (or folders "
    "train/<class>/*.jpg, val/..., test/...) in the miniimagenet/ folder of the data home "
    "or the mirror. Without it, use a substitute meta source: --set meta_source=mnist or "
    "meta_source=omniglot."
)
PICKLES = {
    split: UpstreamFile("miniimagenet", f"mini-imagenet-cache-{split}.pkl", how_to_get=HOW_TO_GET)
    for split in SPLIT_CLASSES
}
FOLDERS = {
    split: UpstreamFile("miniimagenet", split, how_to_get=HOW_TO_GET) for split in SPLIT_CLASSES
}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists and numpy arrays, and refuses any other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data pickle")


def read_pickle_split(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(images uint8 (N, 84, 84, 3), class names, labels into them) of one split pickle."""
    try:
        with open(path, "rb") as handle:
            content = _ArraysOnlyUnpickler(handle, encoding="latin1").load()
        images, class_dict = content["image_data"], content["class_dict"]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise CorruptDataError(
            f"{path}: not a miniImageNet cache pickle (a dict with image_data and class_dict): "
            f"{exc}. {HOW_TO_GET}"
        ) from exc
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (RESOLUTION, RESOLUTION, 3):
        raise CorruptDataError(
            f"{path}: image_data has shape {images.shape}, expected (N, 84, 84, 3)"
        )
    classes = sorted(class_dict)
    labels = np.full(len(images), -1, dtype=np.int64)
    for label, name in enumerate(classes):
        labels[np.asarray(class_dict[name], dtype=np.int64)] = label
    if (labels < 0).any():
        raise CorruptDataError(f"{path}: {int((labels < 0).sum())} images belong to no class")
    return images.astype(np.uint8), classes, labels


def _decode(path: Path) -> np.ndarray:
    from PIL import Image  # here: declarations are read without Pillow

    with Image.open(io.BytesIO(path.read_bytes())) as image:
        image = image.convert("RGB")
        if image.size != (RESOLUTION, RESOLUTION):
            image = image.resize((RESOLUTION, RESOLUTION), Image.Resampling.BILINEAR)
        return np.asarray(image)


def read_folder_split(folder: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(images uint8 (N, 84, 84, 3), class names, labels) of a ``<split>/<class>/`` folder."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() in _IMAGE_SUFFIXES:
                try:
                    images.append(_decode(path))
                except OSError as exc:
                    raise CorruptDataError(f"{path}: unreadable image ({exc})") from exc
                labels.append(label)
    if not images:
        raise CorruptDataError(f"{folder}: no class folders of images found. {HOW_TO_GET}")
    return np.stack(images), classes, np.array(labels)


def _split_source(split: str) -> tuple[Path, str, str]:
    """(path, origin, format) of one split: a pickle first, else a folder."""
    for file, form in ((PICKLES[split], "pickle"), (FOLDERS[split], "folder")):
        found = find_local(file)
        if found is not None and (form == "pickle") == found[0].is_file():
            return found[0], found[1], form
    raise MissingDataError(missing_message(PICKLES[split]))


def _fingerprint(path: Path) -> str:
    """sha256 of a pickle; for a folder, sha256 of its listing (names, sizes, mtimes)."""
    if path.is_file():
        return file_digests(path)["sha256"]
    listing = sorted(
        f"{p.relative_to(path).as_posix()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in path.rglob("*")
        if p.is_file()
    )
    return "listing:" + hashlib.sha256("\n".join(listing).encode()).hexdigest()


def read_split(split: str, path: Path, form: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """One split's images, class names and labels; its class sizes are checked."""
    reader = read_pickle_split if form == "pickle" else read_folder_split
    images, classes, labels = reader(path)
    counts = np.bincount(labels, minlength=len(classes))
    expected = (SPLIT_CLASSES[split], IMAGES_PER_CLASS, IMAGES_PER_CLASS)
    found = (len(classes), int(counts.min()), int(counts.max()))
    if found != expected:
        raise CorruptDataError(
            f"{path}: the {split} split should hold {expected[0]} classes of {IMAGES_PER_CLASS} "
            f"images; found {found[0]} classes of {found[1]} to {found[2]}. {HOW_TO_GET}"
        )
    return images, classes, labels


def load(
    n_points: int, seed: int, splits: tuple[str, ...], image_size: int, interpolation: str
) -> DataBundle:
    """``n_points`` images drawn uniformly by ``seed`` from the union of ``splits``."""
    unknown = sorted(set(splits) - set(SPLIT_CLASSES))
    if unknown or not splits:
        raise ValueError(
            f"miniimagenet: splits must be among {sorted(SPLIT_CLASSES)}, got {splits}"
        )
    check_interpolation(interpolation)
    sources = {split: _split_source(split) for split in splits}

    def read() -> dict[str, np.ndarray]:
        images, labels, names = [], [], []
        for split, (path, _, form) in sources.items():
            split_images, split_classes, split_labels = read_split(split, path, form)
            images.append(split_images)
            labels.append(split_labels + len(names))
            names.extend(split_classes)
        return {
            "images": np.concatenate(images),
            "labels": np.concatenate(labels),
            "classes": np.array(names, dtype=str),
        }

    fingerprints = {split: _fingerprint(path) for split, (path, _, _) in sources.items()}
    settings = {"splits": list(splits), "image_size": image_size}
    pool, digest = cached_image_pool("miniimagenet", fingerprints, settings, read)
    n_classes = len(pool["classes"])
    info = {
        "files": {
            split: {"path": str(path), "origin": origin, "format": form}
            for split, (path, origin, form) in sources.items()
        },
        "pool_size": len(pool["labels"]),
        "preprocessing": (
            f"RGB -> luma gray / 255, {INTERPOLATION} resize {RESOLUTION}x{RESOLUTION} -> "
            f"{image_size}x{image_size}"
        ),
        "feature_cache": digest,
        "n_classes": n_classes,
    }
    indices = subset_indices(len(pool["labels"]), n_points, seed)
    return image_bundle(pool["images"], pool["labels"], indices, n_classes, info)


def fetch() -> None:
    """Check the default split is present (it cannot be downloaded); copy nothing."""
    for split in DATASET.params["splits"].value:
        _split_source(split)


DATASET = DatasetInfo(
    id="miniimagenet",
    name="miniImageNet (meta data)",
    kind="meta",
    features="images",
    load=load,
    default_sizes=(SPLIT_CLASSES["train"] * IMAGES_PER_CLASS,),
    params={
        "splits": Param(
            ("train",),
            "choice: the 64-class meta-training split of Ravi & Larochelle; the paper "
            "does not say which split it used",
        ),
        "image_size": Param(32, "paper: the target images are resized to 32 x 32; same view"),
        "interpolation": Param(INTERPOLATION, "choice: the same resize as the targets"),
    },
    fetch=fetch,
    description="100 ImageNet classes x 600 images at 84x84 (local files only); LRSC meta data.",
)
