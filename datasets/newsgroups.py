"""``20newsgroups`` and ``20newsgroups-meta``: the 20 Newsgroups "bydate" archive, train
and test together (18,846 posts), split into 10 target groups and 10 meta groups.

Protocol (LRSC paper, "Dataset"): "we randomly select 10 categories as the target
data, and use the rest for meta data"; TF-IDF features reduced to 512 dimensions by
TruncatedSVD. The choice of groups is a dataset parameter with a fixed default, never
the run seed, so every seed clusters the same documents (one size: all of them).

The meta split is given in a target's feature space (``feature_space``): TF-IDF and the
SVD are fit on that target's documents only and applied to the meta posts. When a
target's text parameters are overridden, pass the same values to the meta split. In
BBC's space, ``groups="all"`` gives all 20 groups (the paper's meta data for BBC is
"the 20-newsgroup dataset"); in 20 Newsgroups' own space only the 10 meta groups can be
meta data, since the other 10 are the evaluated target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmark.data import (
    BBC_ZIP,
    NEWSGROUPS_COUNTS,
    NEWSGROUPS_TAR,
    TEXT_FEATURE_PARAMS,
    cached_arrays,
    fetch_file,
    locate,
    read_bbc,
    read_newsgroups,
    strip_newsgroup_post,
    subset_indices,
    text_features,
)
from benchmark.plugins import DataBundle, DatasetInfo, Param

GROUPS = tuple(sorted(NEWSGROUPS_COUNTS))
TARGET_CATEGORIES = tuple(
    GROUPS[i] for i in sorted(np.random.default_rng(0).choice(len(GROUPS), 10, replace=False))
)
"""alt.atheism, comp.graphics, comp.sys.ibm.pc.hardware, comp.sys.mac.hardware,
misc.forsale, rec.autos, rec.sport.baseball, talk.politics.guns, talk.politics.mideast,
talk.politics.misc."""
N_TARGET = sum(sum(NEWSGROUPS_COUNTS[group]) for group in TARGET_CATEGORIES)
N_ALL = sum(sum(counts) for counts in NEWSGROUPS_COUNTS.values())
N_META = N_ALL - N_TARGET
META_HALVES = ("meta-even", "meta-odd")
"""The 10 meta groups split in two halves of 5 (every other group in sorted order, so each
half mixes topics): a tuning target of BBC's number of classes with the other half as its
own meta data, so that LRSC's settings can be tuned on text without touching a target."""
META_GROUPS = ("meta", "all", *META_HALVES)
REMOVABLE = ("headers", "footers", "quotes")
FEATURE_SPACE_DIMS = {"20newsgroups": 512, "bbc": 256}
"""Each text target's SVD dimension (paper: 512 for 20 Newsgroups, 256 for BBC)."""


def _check_settings(target_categories: Sequence[str], remove: Sequence[str]) -> None:
    unknown = sorted(set(target_categories) - set(GROUPS))
    if unknown or len(set(target_categories)) < 2:
        raise ValueError(
            f"20newsgroups: target_categories must be at least 2 of the groups {GROUPS}; "
            f"unknown: {unknown}"
        )
    if set(remove) - set(REMOVABLE):
        raise ValueError(f"20newsgroups: remove must be among {REMOVABLE}, got {remove}")


def _posts(
    archive_path: Any, target_categories: Sequence[str], remove: Sequence[str]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(target texts, their groups, meta texts, their groups), posts stripped as asked."""
    corpus, _ = read_newsgroups(archive_path)
    flags = {part: part in remove for part in REMOVABLE}
    target, target_groups, meta, meta_groups = [], [], [], []
    for text, group in zip(corpus.texts, corpus.classes, strict=True):
        stripped = strip_newsgroup_post(text, **flags)
        if group in target_categories:
            target.append(stripped)
            target_groups.append(group)
        else:
            meta.append(stripped)
            meta_groups.append(group)
    return target, target_groups, meta, meta_groups


def _half(X: np.ndarray, y: np.ndarray, half: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of one :data:`META_HALVES` half of the meta groups, labelled 0-4."""
    rows = y % 2 == META_HALVES.index(half)
    return X[rows], y[rows] // 2


def _categories(groups: str, target_categories: Sequence[str]) -> list[str]:
    """The names of the groups a ``load_meta`` call returns, in label order."""
    if groups == "all":
        return list(GROUPS)
    meta = sorted(set(GROUPS) - set(target_categories))
    return meta if groups == "meta" else meta[META_HALVES.index(groups) :: 2]


def _labels(groups: list[str]) -> np.ndarray:
    names = sorted(set(groups))
    return np.array([names.index(group) for group in groups])


def _target_space(
    target_categories: Sequence[str], remove: Sequence[str], text_settings: dict[str, Any]
) -> tuple[dict[str, np.ndarray], str, dict[str, Any]]:
    """Features of the target groups and, in the same space, of the meta groups (cached)."""
    _check_settings(target_categories, remove)
    archive = locate(NEWSGROUPS_TAR)

    def build() -> dict[str, np.ndarray]:
        target, target_groups, meta, meta_groups = _posts(archive.path, target_categories, remove)
        X, X_meta = text_features(target, text_settings, meta)
        return {
            "X": X,
            "y": _labels(target_groups),
            "X_meta": X_meta,
            "y_meta": _labels(meta_groups),
        }

    key = {
        "files": {NEWSGROUPS_TAR.name: archive.sha256},
        "target_categories": sorted(target_categories),
        "remove": sorted(remove),
        **text_settings,
    }
    arrays, digest = cached_arrays("20newsgroups", key, build)
    return arrays, digest, {NEWSGROUPS_TAR.name: archive.record()}


def load(
    n_points: int,
    seed: int,
    target_categories: Sequence[str],
    remove: Sequence[str],
    meta_source: str,
    **text_settings: Any,
) -> DataBundle:
    """All posts of the target groups as TF-IDF → SVD features; ``seed`` changes nothing."""
    _check_settings(target_categories, remove)
    n_documents = sum(sum(NEWSGROUPS_COUNTS[group]) for group in set(target_categories))
    if n_points != n_documents:
        raise ValueError(
            f"20newsgroups clusters all {n_documents} posts of its {len(target_categories)} "
            f"target groups; size must be {n_documents}"
        )
    arrays, digest, files = _target_space(target_categories, remove, text_settings)
    info = {
        "files": files,
        "pool": "all posts of the target groups, train and test",
        "target_categories": sorted(target_categories),
        "preprocessing": {
            "features": "tf-idf -> truncated svd",
            "remove": list(remove),
            **text_settings,
        },
        "feature_cache": digest,
        "meta_source": meta_source,
    }
    return DataBundle(
        X=np.array(arrays["X"]),
        y=np.array(arrays["y"]),
        n_clusters=len(set(target_categories)),
        info=info,
    )


def load_meta(
    n_points: int,
    seed: int,
    feature_space: str,
    target_categories: Sequence[str],
    remove: Sequence[str],
    n_components: int | None,
    groups: str,
    **text_settings: Any,
) -> DataBundle:
    """``n_points`` posts of the meta groups (``groups="all"``: of all 20 groups, BBC's
    space only), drawn by ``seed``, in ``feature_space``."""
    if feature_space not in FEATURE_SPACE_DIMS:
        raise ValueError(
            f"20newsgroups-meta: feature_space must be one of {sorted(FEATURE_SPACE_DIMS)}"
        )
    if groups not in META_GROUPS:
        raise ValueError(f"20newsgroups-meta: groups must be one of {META_GROUPS}, got {groups!r}")
    if groups == "all" and feature_space != "bbc":
        raise ValueError(
            "20newsgroups-meta: groups='all' is only for BBC's feature space; in 20 Newsgroups' "
            "own space the 10 target groups are the evaluated data, so use groups='meta'"
        )
    settings = {**text_settings, "n_components": n_components or FEATURE_SPACE_DIMS[feature_space]}
    if feature_space == "20newsgroups":
        arrays, digest, files = _target_space(target_categories, remove, settings)
        X, y = arrays["X_meta"], arrays["y_meta"]
    else:
        _check_settings(target_categories, remove)
        archive, bbc = locate(NEWSGROUPS_TAR), locate(BBC_ZIP)

        def build() -> dict[str, np.ndarray]:
            target, target_groups, meta, meta_groups = _posts(
                archive.path, target_categories, remove
            )
            if groups == "all":
                meta, meta_groups = target + meta, target_groups + meta_groups
            _, X_meta = text_features(read_bbc(bbc.path).texts, settings, meta)
            return {"X_meta": X_meta, "y_meta": _labels(meta_groups)}

        key = {
            "files": {NEWSGROUPS_TAR.name: archive.sha256, BBC_ZIP.name: bbc.sha256},
            "target_categories": sorted(target_categories),
            "remove": sorted(remove),
            **settings,
        }
        cache_name = "20newsgroups-all-bbc" if groups == "all" else "20newsgroups-meta-bbc"
        arrays, digest = cached_arrays(cache_name, key, build)
        X, y = arrays["X_meta"], arrays["y_meta"]
        files = {NEWSGROUPS_TAR.name: archive.record(), BBC_ZIP.name: bbc.record()}
    if groups in META_HALVES:
        X, y = _half(X, y, groups)
    indices = subset_indices(len(y), n_points, seed)
    info = {
        "files": files,
        "feature_space": feature_space,
        "groups": groups,
        "meta_categories": _categories(groups, target_categories),
        "pool_size": len(y),
        "preprocessing": {
            "features": "tf-idf -> truncated svd",
            "remove": list(remove),
            **settings,
        },
        "feature_cache": digest,
    }
    return DataBundle(
        X=np.array(X[indices]), y=np.array(y[indices]), n_clusters=int(y.max()) + 1, info=info
    )


def fetch() -> None:
    """Put ``20news-bydate.tar.gz`` into the data home (its content is checked when read)."""
    read_newsgroups(fetch_file(NEWSGROUPS_TAR).path)


_SHARED = {
    "target_categories": Param(
        TARGET_CATEGORIES,
        "choice: the paper picks 10 groups 'randomly' and names none; drawn once as "
        "sorted(numpy.random.default_rng(0).choice(20, 10, replace=False)) over the sorted "
        "group names, then fixed",
    ),
    "remove": Param(
        ("headers",),
        "choice: the headers name the newsgroup (the label), so they go (all but the "
        "Subject text); quotes and signatures are kept as part of the posts",
    ),
}
DATASET = DatasetInfo(
    id="20newsgroups",
    name="20 Newsgroups",
    kind="target",
    features="text",
    load=load,
    sizes=(N_TARGET,),
    default_sizes=(N_TARGET,),
    params={
        **_SHARED,
        "n_components": Param(512, "paper: TruncatedSVD 'to reduce the dimensions to 512'"),
        **TEXT_FEATURE_PARAMS,
        "meta_source": Param("20newsgroups-meta", "paper: 'use the rest for meta data'"),
    },
    fetch=fetch,
    dim=lambda n_components, **_: n_components,
    description=f"{N_TARGET} posts of 10 newsgroups; TF-IDF + TruncatedSVD(512) features.",
)
META = DatasetInfo(
    id="20newsgroups-meta",
    name="20 Newsgroups, meta groups",
    kind="meta",
    features="text",
    load=load_meta,
    default_sizes=(N_META,),
    params={
        "feature_space": Param(
            "20newsgroups",
            "paper: meta data of both text targets; set feature_space=bbc for BBC's space",
        ),
        **_SHARED,
        "n_components": Param(None, "paper: None = the feature space's dimension (512 / 256)"),
        "groups": Param(
            "meta",
            "paper: the 10 groups that are not 20 Newsgroups' target; 'all' (all 20 groups, "
            "BBC's space only) is the paper's meta data for BBC; 'meta-even' / 'meta-odd' "
            "(every other meta group) are halves for tuning LRSC on text",
        ),
        **TEXT_FEATURE_PARAMS,
    },
    fetch=fetch,
    description=f"{N_META} posts of the 10 other newsgroups, in a text target's feature space.",
)
