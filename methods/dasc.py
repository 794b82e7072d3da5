"""``dasc``: Deep Adversarial Subspace Clustering (Zhou, Hou & Feng, CVPR 2018).

DSC-Net plus a discriminator of per-cluster subspaces. This file declares the method: its
settings with their sources (DSCN-L2's, and DASC's own from the reference code) and its
memory estimate. The estimator, :class:`DeepAdversarialSubspaceClustering` in
``estimators/dasc.py`` (the model, the losses and the reference code's choices are in its
module docstring), is imported only when a task runs.
"""

from __future__ import annotations

from benchmark.deep.dscn import dscn_settings
from benchmark.deep.network_defaults import READOUT_VARIANTS, deep_memory_mb
from benchmark.plugins import ALL_DATASETS, MethodInfo, Param

FLOAT_BYTES = 4
REFERENCE = "reference code: hyqneuron/dsc_gan (research code, very likely DASC's 2nd author's)"
DSCN = dscn_settings("l2")
TRAIN_CLUSTERING = (
    "choice: the readout's DSC-Net post-processing setting ({}), since the reference code "
    "clusters with post_proC during training"
)


OWN_SETTINGS: dict[str, Param] = {
    "regularizer": Param(
        "l2",
        "choice: DSC-Net's released ‖C‖²_F, kept by the reference code's dsc_gan5 (its later "
        "t28825 switches to ‖C‖₁); the paper text was not available",
    ),
    "adversarial_start": Param(
        50,
        "choice: the first half of dscn-l2's 100 fine-tuning epochs are plain DSC (reference "
        "code launches: 30-75 % plain)",
    ),
    "adversarial_weight": Param(1.0, REFERENCE + ", lambda3 = 1"),
    "subspace_rank": Param(10, REFERENCE + ", rank = 10"),
    "margin": Param(0.1, REFERENCE + ", t28825 m = 0.1"),
    "basis_cross_weight": Param(0.01, REFERENCE + ", beta2 = 0.01"),
    "basis_orthogonality_weight": Param(0.01, REFERENCE + ", beta3 = 0.01"),
    "discriminator_lr": Param(2e-4, REFERENCE + ", lr2 = 2e-4, Adam beta1 = 0"),
    "discriminator_steps": Param(5, REFERENCE + ", t28825 D-steps = 5"),
    "discriminator_warmup_steps": Param(100, REFERENCE + ", D-init = 100"),
    "cluster_every": Param(1, REFERENCE + ", interval2 = 1 (re-cluster every epoch)"),
    "real_start": Param(5.0, REFERENCE + ", t28825 s_lambda1 = 5"),
    "fake_start": Param(4.0, REFERENCE + ", t28825 s_lambda2 = 4"),
    "sample_growth": Param(1.01, REFERENCE + ", t28825 s_tau1 = s_tau2 = 1.01"),
    "sample_floor": Param(0.4, REFERENCE + ", t28825 keeps at least 0.4 n_k points"),
}
"""DASC's own settings, the same for every dataset."""


def _training_clustering(entries: dict[str, Param]) -> dict[str, Param]:
    """``train_*`` twins of the readout's post-processing settings found in ``entries``."""
    return {
        f"train_{name}": Param(
            entries[f"post_{name}"].value, TRAIN_CLUSTERING.format(f"post_{name}")
        )
        for name in ("subspace_dim", "alpha", "keep_fraction")
        if f"post_{name}" in entries
    }


def _defaults() -> dict[str, dict[str, Param]]:
    """dscn-l2's settings under every key, DASC's own on ``"*"``, training clustering twins."""
    defaults = {key: {**entries, **_training_clustering(entries)} for key, entries in DSCN.items()}
    defaults[ALL_DATASETS] = {**defaults[ALL_DATASETS], **OWN_SETTINGS}
    return defaults


def dasc_memory_mb(n: int, d: int) -> float:
    """DSC-Net's peak (:func:`deep_memory_mb`) plus the discriminator and the adversarial term.

    Their :meth:`memory_bytes` at codes of at most 1,024 values (the bound
    :func:`deep_memory_mb` uses) and at most 100 clusters.
    """
    latent = 1024
    extra = FLOAT_BYTES * (2 * n * n + 5 * n * latent + 100 * n)
    return deep_memory_mb(n, d) + extra / 2**20


METHOD = MethodInfo(
    id="dasc",
    name="DASC",
    estimator="estimators/dasc.py:DeepAdversarialSubspaceClustering",
    kind="paper",
    view="auto",
    memory_mb=dasc_memory_mb,
    variants=READOUT_VARIANTS,
    defaults=_defaults(),
    description="DASC: DSC-Net trained against a discriminator of per-cluster subspaces that "
    "scores re-sampled latent points by projection residual; plain and post-processed.",
)
