"""Text features: TF-IDF, then TruncatedSVD (LSA), fit on the target documents only.

The paper (LRSC, "Dataset") says only "TF-IDF features ... TruncatedSVD to reduce the
dimensions to 256 [BBC] / 512 [20 Newsgroups]"; every other setting is ours and is a
visible dataset parameter (:data:`TEXT_FEATURE_PARAMS`). Other documents (meta data) are
transformed with the vocabulary, IDF weights and SVD basis fitted on the target, so they
live in the target's feature space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchmark.plugins import Param

TEXT_FEATURE_PARAMS: dict[str, Param] = {
    "stop_words": Param("english", "choice: scikit-learn's English stop-word list"),
    "min_df": Param(2, "choice: drop words that occur in a single document"),
    "max_df": Param(0.5, "choice: drop words that occur in over half of the documents"),
    "max_features": Param(None, "choice: no cap on the vocabulary"),
    "sublinear_tf": Param(True, "choice: 1 + log(tf), the usual weighting for LSA"),
    "svd_random_state": Param(
        0, "choice: fixed, so the features never depend on the run seed and are cached once"
    ),
    "normalize": Param(
        "l2",
        "choice: rows scaled to unit length after the SVD (LSA's cosine geometry); "
        "'none' keeps them",
    ),
}
"""TF-IDF/SVD settings shared by the text datasets (each adds its ``n_components``)."""
NORMALIZATIONS = ("l2", "none")


def text_features(
    target_texts: Sequence[str],
    settings: Mapping[str, Any],
    other_texts: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """(target features, other features), float32, rows = documents.

    ``settings`` holds ``n_components`` and every key of :data:`TEXT_FEATURE_PARAMS`.
    TF-IDF and the SVD are fit on ``target_texts`` only; ``other_texts`` are transformed.
    """
    # imported here: scikit-learn takes seconds to import, and every CLI command imports
    # this module (through benchmark.data) while only text datasets need it
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize as normalize_rows

    missing = (set(TEXT_FEATURE_PARAMS) | {"n_components"}) - set(settings)
    if missing:
        raise ValueError(f"text feature settings lack {sorted(missing)}")
    if settings["normalize"] not in NORMALIZATIONS:
        raise ValueError(
            f"normalize must be one of {NORMALIZATIONS}, got {settings['normalize']!r}"
        )
    vectorizer = TfidfVectorizer(
        stop_words=settings["stop_words"],
        min_df=settings["min_df"],
        max_df=settings["max_df"],
        max_features=settings["max_features"],
        sublinear_tf=settings["sublinear_tf"],
        dtype=np.float64,
    )
    tfidf = vectorizer.fit_transform(target_texts)
    n_components = int(settings["n_components"])
    if not 1 <= n_components < min(tfidf.shape):
        raise ValueError(
            f"n_components={n_components} must be below the TF-IDF matrix's smaller side "
            f"{min(tfidf.shape)} (documents × vocabulary)"
        )
    svd = TruncatedSVD(n_components=n_components, random_state=settings["svd_random_state"])
    target = svd.fit_transform(tfidf)
    other = (
        svd.transform(vectorizer.transform(other_texts))
        if len(other_texts)
        else np.zeros((0, n_components))
    )
    if settings["normalize"] == "l2":
        target = normalize_rows(target)
        other = normalize_rows(other) if len(other) else other
    return target.astype(np.float32), other.astype(np.float32)
