"""``fashion-mnist``: Zalando's Fashion-MNIST (Xiao et al. 2017), 10 clothing classes.

Protocol (LRSC paper, "Dataset" and Table 2): sizes 1,000 / 5,000 / 10,000 with equal
counts per class drawn by the run seed from the pool (by default all 70,000 images,
train and test files); pixels scaled to [0, 1]; 28×28 resized to 32×32.
"""

from __future__ import annotations

import numpy as np

from benchmark.data import (
    INTERPOLATION,
    REPORTED_SEEDS,
    UpstreamFile,
    balanced_indices,
    cached_image_pool,
    check_interpolation,
    fetch_file,
    held_out_indices,
    image_bundle,
    locate,
    read_idx_parts,
)
from benchmark.plugins import DataBundle, DatasetInfo, Param

_BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MD5 = {  # published in zalandoresearch/fashion-mnist README; sha256 of the same bytes
    "train-images-idx3-ubyte.gz": (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    "train-labels-idx1-ubyte.gz": (
        "25c81989df183df01b3e8a0aad5dffbe",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    "t10k-images-idx3-ubyte.gz": (
        "bef4ecab320f06d8554ea6380940ec79",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "bb300cfdad3c16e7a12a480ee83cd310",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
}
FILES = {
    name: UpstreamFile("fashion-mnist", name, (_BASE + name,), {"md5": md5, "sha256": sha256})
    for name, (md5, sha256) in _MD5.items()
}
PARTS = {  # part -> (images, labels, images per class)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 6000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 1000),
}
POOLS = {
    "train+test": ("train", "test"),
    "train": ("train",),
    "test": ("test",),
    "tuning": ("train", "test"),
}
"""``tuning``: the train+test images that no reported sample (seeds 0-2, sizes 1,000,
5,000 and 10,000) contains, for choosing settings with labels (../shared/PROTOCOL.md)."""
SIZES = (1000, 5000, 10000)
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def load(
    n_points: int, seed: int, pool: str, image_size: int, interpolation: str, meta_source: str
) -> DataBundle:
    """``n_points`` images, ``n_points / 10`` per class, drawn from ``pool`` by ``seed``."""
    if pool not in POOLS:
        raise ValueError(f"fashion-mnist: pool must be one of {sorted(POOLS)}, got {pool!r}")
    check_interpolation(interpolation)
    parts = POOLS[pool]
    located = {name: locate(FILES[name]) for part in parts for name in PARTS[part][:2]}

    def read() -> dict[str, np.ndarray]:
        fix = "Delete it and run `python -m benchmark fetch --datasets fashion-mnist`."
        return read_idx_parts(
            [
                (
                    located[PARTS[part][0]].path,
                    located[PARTS[part][1]].path,
                    dict.fromkeys(range(10), PARTS[part][2]),
                )
                for part in parts
            ],
            fix,
        )

    settings = {"pool": pool, "image_size": image_size}
    shas = {name: file.sha256 for name, file in located.items()}
    pool_arrays, digest = cached_image_pool("fashion-mnist", shas, settings, read)
    images, labels = pool_arrays["images"], pool_arrays["labels"]
    if pool == "tuning":
        kept = held_out_indices(labels, len(CLASSES), SIZES, REPORTED_SEEDS)
        images, labels = images[kept], labels[kept]
    indices = balanced_indices(labels, n_points, len(CLASSES), seed)
    info = {
        "files": {name: file.record() for name, file in located.items()},
        "pool": pool,
        "pool_size": len(labels),
        "preprocessing": f"x/255, {INTERPOLATION} resize 28x28 -> {image_size}x{image_size}",
        "feature_cache": digest,
        "classes": list(CLASSES),
        "meta_source": meta_source,
    }
    return image_bundle(images, labels, indices, len(CLASSES), info)


def fetch() -> None:
    """Put the four upstream files into the data home (checksums verified)."""
    for file in FILES.values():
        fetch_file(file)


DATASET = DatasetInfo(
    id="fashion-mnist",
    name="Fashion-MNIST",
    kind="target",
    features="images",
    load=load,
    sizes=SIZES,
    default_sizes=SIZES,
    params={
        "pool": Param(
            "train+test",
            "paper: 1,000 images per class drawn at random; our reading: from all 70,000 "
            "(train and test files)",
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
    description="70,000 28x28 clothing images, 10 classes; equal-count subsamples by seed.",
)
