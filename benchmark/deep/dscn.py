"""DSCN-L1 and DSCN-L2 from one definition: DSC-Net's settings for either regulariser.

Ji, Zhang, Li, Salzmann & Reid, "Deep Subspace Clustering Networks", NeurIPS 2017;
LRSC (Li et al., AAAI 2021) Eq. (1)-(2) with R(C) = ‖C‖₁ (DSCN-L1) or ‖C‖²_F (DSCN-L2),
trained by Algorithm 2 with a random initialisation. The two methods differ in R(C)
and in the self-expression weight λ1 found for text; everything else is shared. The
methods built on DSC-Net (DPSC, DASC, LRSC) start from :func:`dscn_settings` and add
their own terms. How the reference code's settings map onto Eq. (1):
:mod:`benchmark.deep.network_defaults`.
"""

from __future__ import annotations

from benchmark.any_data import any_data_source
from benchmark.deep.network_defaults import NETWORK_DEFAULTS, READOUT_VARIANTS, deep_memory_mb
from benchmark.plugins import ALL_DATASETS, MethodInfo, Param, features_key

SEARCH = "results/tuning/dscn.md"
IMAGE_LAMBDA1 = {"l1": 0.01, "l2": 0.01}
"""λ1 on images: best mean ACC over λ1 ∈ {0.01, 0.1, 1, 10} on Fashion-MNIST's tuning pool."""
TEXT_LAMBDA1 = {"l1": 100.0, "l2": 0.1}
"""λ1 on text: best mean ACC over λ1 ∈ {0.1 (L2), 1, 10, 100, 1000 (L1)} on 2,225 posts of
the 10 meta groups of 20 Newsgroups in BBC's feature space (BBC's meta data)."""
NEWSGROUPS_LAMBDA1 = {"l1": 100.0, "l2": 10.0}
"""λ1 for ``20newsgroups``: the same search in its own feature space (its 10 other groups)."""
ANY_DATA_LAMBDA1 = {"l1": 0.1, "l2": 0.1}
"""λ1 for data without settings of their own, on unit-rms input: best mean ACC over
λ1 ∈ {0.01, 0.1, 1, 10} across MNIST and Omniglot, checked on Fashion-MNIST."""
ANY_DATA_SEARCH = "results/tuning/star.md"
HELD_OUT_ACC = {"l1": "0.579 (best λ1 there: 0.601)", "l2": "0.589 (best λ1 there: 0.599)"}


def _any_data_source(regularizer: str) -> str:
    grid = (
        f"λ1 in {{0.01, 0.1, 1, 10}} (DSCN-{regularizer.upper()}, plain readout, "
        "input_scale=unit-rms)"
    )
    return any_data_source(grid, HELD_OUT_ACC[regularizer], ANY_DATA_SEARCH)


UNIT_RMS = Param(
    "unit-rms",
    "transfer:mnist+omniglot: data without settings of their own are scaled to unit root "
    f"mean square, so that λ1 and λ2 chosen across datasets mean the same at any scale; "
    f"{ANY_DATA_SEARCH}",
    added_at="as-given",
)
AS_GIVEN = Param(
    "as-given",
    "reference code: DSC-Net trains on the data as its loaders give them; this kind of "
    "features has settings chosen on data so given",
    added_at="as-given",
)


def _image_source(regularizer: str) -> str:
    return (
        f"transfer:fashion-mnist-tuning-pool: best mean ACC (plain readout) over λ1 in "
        f"{{0.01, 0.1, 1, 10}} on 1,000 Fashion-MNIST images that no reported sample "
        f"contains (pool=tuning), seeds 100-102, DSCN-{regularizer.upper()}; {SEARCH}"
    )


def _text_source(regularizer: str, space: str) -> str:
    grid = "{1, 10, 100, 1000}" if regularizer == "l1" else "{0.1, 1, 10, 100}"
    return (
        f"transfer:20newsgroups-meta: best mean ACC (plain readout) over λ1 in {grid} on "
        f"2,225 posts of the 10 meta groups of 20 Newsgroups in {space}'s feature space, "
        f"seeds 100-102, DSCN-{regularizer.upper()}; {SEARCH}"
    )


LARGE_CLUSTER_SUBSPACE_DIM = Param(
    10,
    "reference code: EYaleB, d = 10; what 'auto' gives with 31 or more points per cluster, "
    "as every sample of the paper's datasets has (kept as a number, so that their committed "
    "results keep their task ids)",
)

EPOCHS = (
    "choice: 100 pretraining and 100 fine-tuning epochs, held fixed in the transfer search "
    "of results/tuning/"
)

REGULARIZER_SOURCES = {
    "l1": "paper: DSCN-L1 regularises C with ‖C‖₁ (DSC-Net Eq. (4))",
    "l2": "paper: DSCN-L2 regularises C with ‖C‖²_F (squared, as in the reference code)",
}


def dscn_settings(regularizer: str) -> dict[str, dict[str, Param]]:
    """Defaults of DSC-Net with ``regularizer`` (``"l1"`` or ``"l2"``): every dataset,
    then by kind of features (``features:images``, ``features:text``)."""
    if regularizer not in REGULARIZER_SOURCES:
        known = sorted(REGULARIZER_SOURCES)
        raise ValueError(f"unknown regularizer {regularizer!r}; choose one of {known}")
    return {
        ALL_DATASETS: {
            **NETWORK_DEFAULTS,
            "regularizer": Param(regularizer, REGULARIZER_SOURCES[regularizer]),
            "input_scale": UNIT_RMS,
            "lambda1": Param(ANY_DATA_LAMBDA1[regularizer], _any_data_source(regularizer)),
            "lambda2": Param(
                1.0, "reference code: reg1 = 1.0 weights the regulariser (= λ2), EYaleB and ORL"
            ),
            "output_activation": Param("relu", "paper: ReLU in all layers"),
            "dense_hidden": Param((128,), "choice: one hidden layer of 128 units (text)"),
            "pretrain_epochs": Param(100, EPOCHS),
            "pretrain_batch_size": Param(100, "choice: mini-batches of 100"),
            "finetune_epochs": Param(100, EPOCHS),
            "post_subspace_dim": Param(
                "auto",
                "reference code: d from the cluster size, (n/K - 1) // 3 capped at 10, which "
                "gives the reference's EYaleB d = 10 (64 images per class) and ORL d = 3 (10 "
                "per class); benchmark.spectral.reference_subspace_dim",
            ),
            "post_alpha": Param(3.5, "reference code: EYaleB, alpha = 3.5"),
            "post_keep_fraction": Param(
                "auto", "reference code: EYaleB, ro = max(0.4 - 0.1 (K-1)/10, 0.1) from K"
            ),
        },
        features_key("images"): {
            "post_subspace_dim": LARGE_CLUSTER_SUBSPACE_DIM,
            "input_scale": AS_GIVEN,
            "lambda1": Param(IMAGE_LAMBDA1[regularizer], _image_source(regularizer)),
        },
        features_key("text"): {
            "post_subspace_dim": LARGE_CLUSTER_SUBSPACE_DIM,
            "input_scale": AS_GIVEN,
            "lambda1": Param(TEXT_LAMBDA1[regularizer], _text_source(regularizer, "bbc")),
            "output_activation": Param(
                "linear",
                "choice: text features (TF-IDF, then SVD) are signed; a ReLU output cannot "
                "reconstruct them",
            ),
        },
        "20newsgroups": {
            "lambda1": Param(
                NEWSGROUPS_LAMBDA1[regularizer], _text_source(regularizer, "20newsgroups")
            ),
        },
    }


def dscn_method(regularizer: str) -> MethodInfo:
    """The ``dscn-l1`` or ``dscn-l2`` plugin declaration."""
    norm = "‖C‖₁" if regularizer == "l1" else "‖C‖²_F"
    return MethodInfo(
        id=f"dscn-{regularizer}",
        name=f"DSCN-{regularizer.upper()}",
        estimator="benchmark.deep.estimator:DeepSelfExpressiveClustering",
        kind="paper",
        view="auto",
        memory_mb=deep_memory_mb,
        variants=READOUT_VARIANTS,
        defaults=dscn_settings(regularizer),
        description=f"DSCN-{regularizer.upper()}: DSC-Net with {norm}: conv (images) or dense "
        "(text) auto-encoder, self-expression layer, spectral clustering; plain and "
        "post-processed.",
    )
