"""``bbc``: BBC News (Greene & Cunningham, ICML 2006), 2,225 articles in 5 topics.

Protocol (LRSC paper, "Dataset"): all 2,225 documents (one size), TF-IDF features
reduced to 256 dimensions by TruncatedSVD; unequal classes business 510, entertainment
386, politics 417, sport 511, tech 401. The paper's meta data for BBC is 20 Newsgroups.
"""

from __future__ import annotations

import numpy as np

from benchmark.data import (
    BBC_COUNTS,
    BBC_ZIP,
    TEXT_FEATURE_PARAMS,
    cached_arrays,
    fetch_file,
    locate,
    read_bbc,
    text_features,
)
from benchmark.plugins import DataBundle, DatasetInfo, Param

CLASSES = tuple(sorted(BBC_COUNTS))
N_DOCUMENTS = sum(BBC_COUNTS.values())


def load(n_points: int, seed: int, meta_source: str, **text_settings: object) -> DataBundle:
    """All 2,225 documents as TF-IDF → SVD features; ``seed`` changes nothing (no sampling)."""
    if n_points != N_DOCUMENTS:
        raise ValueError(f"bbc clusters all {N_DOCUMENTS} documents; size must be {N_DOCUMENTS}")
    archive = locate(BBC_ZIP)

    def build() -> dict[str, np.ndarray]:
        corpus = read_bbc(archive.path)
        features, _ = text_features(corpus.texts, text_settings)
        return {
            "X": features,
            "y": np.array([CLASSES.index(label) for label in corpus.classes]),
            "decoded_as_latin1": np.array(corpus.decoded_as_latin1),
        }

    key = {"files": {BBC_ZIP.name: archive.sha256}, **text_settings}
    arrays, digest = cached_arrays("bbc", key, build)
    info = {
        "files": {BBC_ZIP.name: archive.record()},
        "pool": "all documents",
        "preprocessing": {"features": "tf-idf -> truncated svd", **text_settings},
        "decoded_as_latin1": int(arrays["decoded_as_latin1"]),
        "feature_cache": digest,
        "classes": list(CLASSES),
        "meta_source": meta_source,
    }
    return DataBundle(
        X=np.array(arrays["X"]), y=np.array(arrays["y"]), n_clusters=len(CLASSES), info=info
    )


def fetch() -> None:
    """Put ``bbc-fulltext.zip`` into the data home (its content is checked when read)."""
    read_bbc(fetch_file(BBC_ZIP).path)


DATASET = DatasetInfo(
    id="bbc",
    name="BBC",
    kind="target",
    features="text",
    load=load,
    sizes=(N_DOCUMENTS,),
    default_sizes=(N_DOCUMENTS,),
    params={
        "n_components": Param(256, "paper: TruncatedSVD 'to reduce the dimensions to 256'"),
        **TEXT_FEATURE_PARAMS,
        "meta_source": Param(
            "20newsgroups-meta", "paper: '20-newsgroup dataset as the meta data for ... BBC'"
        ),
    },
    fetch=fetch,
    dim=lambda n_components, **_: n_components,
    description="2,225 BBC news articles, 5 topics; TF-IDF + TruncatedSVD(256) features.",
)
