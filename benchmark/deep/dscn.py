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

from benchmark.deep.estimator import DeepSelfExpressiveClustering
from benchmark.deep.network_defaults import NETWORK_DEFAULTS, READOUT_VARIANTS, deep_memory_mb
from benchmark.plugins import ALL_DATASETS, MethodInfo, Param

IMAGES = "our search on fashion-mnist and notmnist at n = 1,000 (labels used, seeds 100-102)"
TEXT = "our search on bbc (labels used, seeds 100-102)"
TUNING = " — see results/dscn_tuning.md"

REGULARIZER_SOURCES = {
    "l1": "paper: DSCN-L1 regularises C with ‖C‖₁ (DSC-Net Eq. (4))",
    "l2": "paper: DSCN-L2 regularises C with ‖C‖²_F (squared, as in the reference code)",
}
TEXT_LAMBDA1 = {"l1": 100.0, "l2": 10.0}
"""λ1 on the text features, per regulariser (our search on BBC)."""


def dscn_settings(regularizer: str) -> dict[str, dict[str, Param]]:
    """Per-dataset defaults of DSC-Net with ``regularizer`` (``"l1"`` or ``"l2"``)."""
    if regularizer not in REGULARIZER_SOURCES:
        raise ValueError(
            f"unknown regularizer {regularizer!r}; choose one of {sorted(REGULARIZER_SOURCES)}"
        )
    return {
        ALL_DATASETS: {
            **NETWORK_DEFAULTS,
            "regularizer": Param(regularizer, REGULARIZER_SOURCES[regularizer]),
            "lambda1": Param(1.0, IMAGES + TUNING),
            "lambda2": Param(
                1.0, "reference code: reg1 = 1.0 weights the regulariser (= λ2), EYaleB and ORL"
            ),
            "output_activation": Param("relu", "paper: ReLU in all layers"),
            "dense_hidden": Param((128,), TEXT + ": 128 vs 512 units made no difference"),
            "pretrain_epochs": Param(100, IMAGES + TUNING),
            "pretrain_batch_size": Param(100, "our choice"),
            "finetune_epochs": Param(100, IMAGES + ": 300 epochs did no better" + TUNING),
            "post_subspace_dim": Param(10, "reference code: EYaleB, d = 10"),
            "post_alpha": Param(3.5, "reference code: EYaleB, alpha = 3.5"),
            "post_keep_fraction": Param(
                0.31, "reference code: EYaleB, ro = max(0.4 - 0.1 (K-1)/10, 0.1) at K = 10"
            ),
        },
        "bbc": {
            "lambda1": Param(TEXT_LAMBDA1[regularizer], TEXT + TUNING),
            "output_activation": Param(
                "linear",
                "our choice: the BBC features (TF-IDF, then SVD) are signed; a ReLU output "
                "could not reconstruct them",
            ),
            "post_subspace_dim": Param(2, TEXT + TUNING),
            "post_alpha": Param(1.0, TEXT + TUNING),
            "post_keep_fraction": Param(1.0, TEXT + ": no thresholding" + TUNING),
        },
    }


def dscn_method(regularizer: str) -> MethodInfo:
    """The ``dscn-l1`` or ``dscn-l2`` plugin declaration."""
    norm = "‖C‖₁" if regularizer == "l1" else "‖C‖²_F"
    return MethodInfo(
        id=f"dscn-{regularizer}",
        name=f"DSCN-{regularizer.upper()}",
        estimator=DeepSelfExpressiveClustering,
        kind="paper",
        view="auto",
        memory_mb=deep_memory_mb,
        variants=READOUT_VARIANTS,
        defaults=dscn_settings(regularizer),
        description=f"DSCN-{regularizer.upper()}: DSC-Net with {norm}: conv (images) or dense "
        "(text) auto-encoder, self-expression layer, spectral clustering; plain and "
        "post-processed.",
    )
