"""``dscn-l1``: Deep Subspace Clustering Network with the ℓ1 regulariser.

Ji, Zhang, Li, Salzmann & Reid, "Deep Subspace Clustering Networks", NeurIPS 2017;
LRSC (Li et al., AAAI 2021) Eq. (1)-(2) with R(C) = ‖C‖₁, trained by Algorithm 2. The
model, the two training stages and both readouts are the engine's
:class:`benchmark.deep.DeepSelfExpressiveClustering`; this file holds its settings. How
the reference code's settings map onto Eq. (1): :mod:`benchmark.deep.network_defaults`.
"""

from __future__ import annotations

from benchmark.deep import DeepSelfExpressiveClustering
from benchmark.deep.network_defaults import NETWORK_DEFAULTS, READOUT_VARIANTS, deep_memory_mb
from benchmark.plugins import MethodInfo, Param

IMAGES = "our search on fashion-mnist and notmnist at n = 1,000 (labels used, seeds 100-102)"
TEXT = "our search on bbc (labels used, seeds 100-102)"
TUNING = " — see results/dscn_tuning.md"

METHOD = MethodInfo(
    id="dscn-l1",
    name="DSCN-L1",
    estimator=DeepSelfExpressiveClustering,
    kind="paper",
    view="auto",
    memory_mb=deep_memory_mb,
    variants=READOUT_VARIANTS,
    defaults={
        "*": {
            **NETWORK_DEFAULTS,
            "regularizer": Param("l1", "paper: DSCN-L1 regularises C with ‖C‖₁ (DSC-Net Eq. (4))"),
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
            "lambda1": Param(100.0, TEXT + TUNING),
            "output_activation": Param(
                "linear",
                "our choice: the BBC features (TF-IDF, then SVD) are signed; a ReLU output "
                "could not reconstruct them",
            ),
            "post_subspace_dim": Param(2, TEXT + TUNING),
            "post_alpha": Param(1.0, TEXT + TUNING),
            "post_keep_fraction": Param(1.0, TEXT + ": no thresholding" + TUNING),
        },
    },
    description="DSCN-L1: DSC-Net with ‖C‖₁: conv (images) or dense (text) "
    "auto-encoder, self-expression layer, spectral clustering; plain and post-processed.",
)
