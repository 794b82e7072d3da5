"""Dataset sources shared by the dataset plugins: where raw files come from (data home,
mirror, download), how they are checked, read and preprocessed, and the feature cache.

The CLI calls :func:`fetch_datasets` for ``python -m benchmark fetch`` and sets
``SUBSPACE_BENCH_DATA`` / ``SUBSPACE_BENCH_MIRROR`` from ``--data-home`` / ``--mirror``.
"""

from benchmark.data.cache import cache_key_digest, cached_arrays
from benchmark.data.checks import (
    CorruptDataError,
    DataError,
    MissingDataError,
    file_digests,
    verify_counts,
)
from benchmark.data.corpora import (
    BBC_COUNTS,
    BBC_ZIP,
    NEWSGROUPS_COUNTS,
    NEWSGROUPS_TAR,
    Corpus,
    read_bbc,
    read_newsgroups,
    strip_newsgroup_post,
)
from benchmark.data.download import DownloadError, download
from benchmark.data.home import DATA_HOME_ENV, MIRROR_ENV, data_home, mirror_dir
from benchmark.data.idx import read_idx
from benchmark.data.image_pools import (
    cached_image_pool,
    check_interpolation,
    image_bundle,
    read_idx_pair,
    read_idx_parts,
)
from benchmark.data.images import INTERPOLATION, preprocess_images, resize_images, to_unit_gray
from benchmark.data.prefetch import fetch_datasets
from benchmark.data.sampling import (
    REPORTED_SEEDS,
    TUNING_SEEDS,
    balanced_indices,
    held_out_indices,
    subset_indices,
)
from benchmark.data.sources import (
    LocatedFile,
    UpstreamFile,
    fetch_file,
    find_local,
    locate,
    missing_message,
)
from benchmark.data.text import TEXT_FEATURE_PARAMS, text_features

__all__ = [
    "BBC_COUNTS",
    "BBC_ZIP",
    "DATA_HOME_ENV",
    "INTERPOLATION",
    "MIRROR_ENV",
    "NEWSGROUPS_COUNTS",
    "NEWSGROUPS_TAR",
    "TEXT_FEATURE_PARAMS",
    "CorruptDataError",
    "Corpus",
    "DataError",
    "DownloadError",
    "LocatedFile",
    "MissingDataError",
    "UpstreamFile",
    "REPORTED_SEEDS",
    "TUNING_SEEDS",
    "balanced_indices",
    "held_out_indices",
    "cache_key_digest",
    "cached_arrays",
    "cached_image_pool",
    "check_interpolation",
    "data_home",
    "download",
    "fetch_datasets",
    "fetch_file",
    "file_digests",
    "find_local",
    "image_bundle",
    "locate",
    "mirror_dir",
    "missing_message",
    "preprocess_images",
    "read_bbc",
    "read_idx",
    "read_idx_pair",
    "read_idx_parts",
    "read_newsgroups",
    "resize_images",
    "strip_newsgroup_post",
    "subset_indices",
    "text_features",
    "to_unit_gray",
    "verify_counts",
]
