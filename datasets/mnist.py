"""``mnist``: LeCun's MNIST digits, a meta (external) data substitute for LRSC.

The paper's meta data for the image datasets is miniImageNet; MNIST is on the mirror
byte for byte, so it stands in when miniImageNet cannot be had (``--set
meta_source=mnist`` on the target). Same view as the targets: [0, 1], 1×32×32.
"""

from __future__ import annotations

import numpy as np

from benchmark.data import (
    INTERPOLATION,
    UpstreamFile,
    cached_image_pool,
    check_interpolation,
    fetch_file,
    image_bundle,
    locate,
    read_idx_parts,
    subset_indices,
)
from benchmark.plugins import DataBundle, DatasetInfo, Param

_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_CHECKSUMS = {  # md5: the upstream's widely published values (torchvision checks them)
    "train-images-idx3-ubyte.gz": (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels-idx1-ubyte.gz": (
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "t10k-images-idx3-ubyte.gz": (
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
FILES = {
    name: UpstreamFile(
        "mnist", name, tuple(base + name for base in _URLS), {"md5": md5, "sha256": sha256}
    )
    for name, (md5, sha256) in _CHECKSUMS.items()
}
PARTS = {  # part -> (images, labels, images per digit 0..9)
    "train": (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    ),
    "test": (
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    ),
}
POOLS = {"train+test": ("train", "test"), "train": ("train",), "test": ("test",)}


def load(n_points: int, seed: int, pool: str, image_size: int, interpolation: str) -> DataBundle:
    """``n_points`` digits drawn uniformly from ``pool`` by ``seed`` (all of them at full size)."""
    if pool not in POOLS:
        raise ValueError(f"mnist: pool must be one of {sorted(POOLS)}, got {pool!r}")
    check_interpolation(interpolation)
    parts = POOLS[pool]
    located = {name: locate(FILES[name]) for part in parts for name in PARTS[part][:2]}

    def read() -> dict[str, np.ndarray]:
        fix = "Delete it and run `python -m benchmark fetch --datasets mnist`."
        return read_idx_parts(
            [
                (
                    located[PARTS[part][0]].path,
                    located[PARTS[part][1]].path,
                    dict(enumerate(PARTS[part][2])),
                )
                for part in parts
            ],
            fix,
        )

    settings = {"pool": pool, "image_size": image_size}
    shas = {name: file.sha256 for name, file in located.items()}
    pool_arrays, digest = cached_image_pool("mnist", shas, settings, read)
    images, labels = pool_arrays["images"], pool_arrays["labels"]
    info = {
        "files": {name: file.record() for name, file in located.items()},
        "pool": pool,
        "pool_size": len(labels),
        "preprocessing": f"x/255, {INTERPOLATION} resize 28x28 -> {image_size}x{image_size}",
        "feature_cache": digest,
    }
    return image_bundle(images, labels, subset_indices(len(labels), n_points, seed), 10, info)


def fetch() -> None:
    """Put the four upstream files into the data home (checksums verified)."""
    for file in FILES.values():
        fetch_file(file)


DATASET = DatasetInfo(
    id="mnist",
    name="MNIST (meta data)",
    kind="meta",
    features="images",
    load=load,
    default_sizes=(70000,),
    params={
        "pool": Param("train+test", "choice: every labelled digit is usable as meta data"),
        "image_size": Param(32, "paper: the target images are resized to 32 x 32; same view"),
        "interpolation": Param(INTERPOLATION, "choice: the same resize as the targets"),
    },
    fetch=fetch,
    description="70,000 handwritten digits (10 classes), meta-data substitute for miniImageNet.",
)
