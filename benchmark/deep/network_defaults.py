"""Settings shared by the DSC-Net-based plugins (DSCN-L1/L2, DASC, DPSC), with sources.

A plugin merges :data:`NETWORK_DEFAULTS` into its ``"*"`` defaults and adds its own
per-dataset λ1, λ2, schedules and post-processing. :func:`deep_memory_mb` is the
``memory_mb`` of such a plugin (from :func:`values_per_sample`, the auto-encoders'
activations; no PyTorch needed), and :data:`READOUT_VARIANTS` its variants: every deep
result is reported with and without DSC-Net's post-processing (Haeffele, You & Vidal,
ICLR 2021, show how much of the deep methods' gains comes from that step); the two
variants share one fine-tuning through the coefficient cache.

How the reference code's settings map onto LRSC Eq. (1),
½‖X − X̂‖² + λ1/2 ‖Z − ZC‖² + λ2 R(C) (DSC-Net, TensorFlow,
github.com/panji530/Deep-subspace-clustering-networks; its released scripts are the L2
ones, and DSCN-L1 replaces ΣCoef² by Σ|Coef|, DSC-Net Eq. (4)):

* ``DSC-Net-L2-EYaleB.py`` and ``-ORL.py``: loss = ½Σ(x̂−x)² + reg_constant1·ΣCoef² +
  re_constant2·½Σ(z_c−z)², so λ1 = re_constant2 (the script's ``reg2``) and
  λ2 = reg_constant1 (``reg1``). EYaleB: reg1 = 1, reg2 = 10^(K/10 − 3); ORL: reg1 = 1,
  reg2 = 0.2.
* ``DSC-Net-L2-COIL20.py``: loss = Σ(x̂−x)² (no ½) + reg_const1·ΣCoef² +
  reg_const2·½Σ(z−z_c)²; halved to match Eq. (1): λ1 = reg_const2/2, λ2 = reg_const1/2
  (reg1 = 1, reg2 = 150 → λ1 = 75, λ2 = 0.5). A port that keeps the unhalved sum of
  squares for the reconstruction but reads reg2 as λ1 silently halves λ1.
* All scripts: Adam with learning rate 1e-3 (pretraining and fine-tuning), full-batch
  fine-tuning, every term a plain sum; Coef initialised to 1e-4 (EYaleB), 1e-8 (COIL20)
  or 0 (ORL) with a free diagonal (we keep diag(C) = 0 as Eq. (1) says);
  post-processing ``thrC(C, ro)`` then ``post_proC(C, K, d, alpha)``: EYaleB ro =
  max(0.4 − 0.1(K−1)/10, 0.1), d = 10, alpha = 3.5; ORL 0.2, 3, 1; COIL20 0.04, 12, 8.
  Here ro is ``post_keep_fraction``, d ``post_subspace_dim``, alpha ``post_alpha``.

The reference code covers none of the LRSC datasets and the LRSC paper leaves its
settings to a supplement we do not have, so λ1 is chosen by transfer under
../shared/PROTOCOL.md (results/tuning/README.md): on the 20 Newsgroups meta groups for
text, on Fashion-MNIST's held-out tuning pool for images (benchmark.deep.dscn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from benchmark.deep.memory import task_memory_mb
from benchmark.plugins import Param

CONV_CHANNELS = (10, 20, 30, 40)
KERNEL_SIZE = 3

NETWORK_DEFAULTS: dict[str, Param] = {
    "conv_channels": Param(
        CONV_CHANNELS, "paper: LRSC implementation details, 4 conv layers, channels 10-20-30-40"
    ),
    "kernel_size": Param(KERNEL_SIZE, "paper: LRSC implementation details, 3×3, stride 2"),
    "pretrain_lr": Param(1e-3, "reference code: DSC-Net pretraining, Adam lr 1.0e-3"),
    "finetune_lr": Param(1e-3, "reference code: DSC-Net fine-tuning, Adam lr 1.0e-3"),
    "coef_init": Param(
        1e-4, "reference code: DSC-Net-L2-EYaleB initialises Coef to 1.0e-4 (diagonal: 0)"
    ),
    "input_scale": Param(
        "as-given",
        "reference code: DSC-Net trains on the data as its loaders give them (images in "
        "[0, 1]); 'unit-rms' makes λ1 and λ2 independent of the data's scale",
        added_at="as-given",
    ),
    "post_process": Param(
        False,
        "paper: LRSC builds the affinity ½(|C|+|Cᵀ|) for spectral clustering; the 'post' "
        "variant applies DSC-Net's thrC + post_proC instead (reference code)",
    ),
}

READOUT_VARIANTS = {
    "": {"post_process": False},
    "post": {"post_process": True},
}
"""Plain affinity ½(|C|+|Cᵀ|) and DSC-Net post-processing (thrC + post_proC)."""


def values_per_sample(
    sample_shape: Sequence[int], conv_channels: Sequence[int], dense_hidden: Sequence[int]
) -> int:
    """Activations one sample produces in a forward pass (input, every layer, output)."""
    if len(sample_shape) == 3:
        _, height, width = sample_shape
        encoder = sum(
            c * (height // 2 ** (i + 1)) * (width // 2 ** (i + 1))
            for i, c in enumerate(conv_channels)
        )
    elif len(sample_shape) == 1:
        encoder = sum(int(h) for h in dense_hidden)
    else:
        raise ValueError(f"samples must be vectors or images, got shape {tuple(sample_shape)}")
    inputs = 1
    for size in sample_shape:
        inputs *= int(size)
    return 2 * inputs + 2 * encoder


def deep_memory_mb(n: int, d: int) -> float:
    """Peak MiB of a DSC-Net task on n samples of dimension d.

    An upper bound over the two networks a dimension can mean: the dense auto-encoder on
    d-vectors (a generous 1,024-unit hidden layer) and, when d is a square image, the
    convolutional one; the readout counts DSC-Net post-processing.
    """
    dense = values_per_sample((d,), CONV_CHANNELS, (1024,))
    side = math.isqrt(d)
    conv = 0
    if side * side == d and side % 2 ** len(CONV_CHANNELS) == 0:
        conv = values_per_sample((1, side, side), CONV_CHANNELS, ())
    return task_memory_mb(n, max(dense, conv), post_process=True)
