"""``clustergan``: ClusterGAN, the paper's deep-clustering baseline (Mukherjee et al., AAAI 2019).

This file declares the method: its settings with their sources (the authors' reference
code), its two readouts and its memory estimate, counted without PyTorch. The estimator,
:class:`ClusterGAN` in ``estimators/clustergan.py`` (the networks, the objective and the
training as the reference code runs them are in its module docstring), is imported only
when a task runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.plugins import TORCH_PROCESS_BASELINE_MB, MethodInfo, Param

IMAGE_SIDE = 32
"""Side of the square images the image networks take (n, 1, 32, 32)."""
MEMORY_LATENT_DIM = 30 + 20
"""Latent size assumed by the memory estimate (30 noise + up to 20 clusters)."""


def parameter_count(
    sample_shape: tuple[int, ...],
    latent_dim: int,
    conv_channels: Sequence[int],
    fc_units: int,
    dense_hidden: Sequence[int],
) -> int:
    """Weights and biases of the generator, critic and encoder that ``build_networks`` of
    ``estimators/clustergan.py`` makes for ``sample_shape`` (the tests check that the two
    agree), counted without building them."""

    def dense(inputs: int, outputs: int) -> int:
        return inputs * outputs + outputs

    def conv(inputs: int, outputs: int) -> int:  # 4×4 kernels, convolution or transposed
        return inputs * outputs * 16 + outputs

    def mlp(inputs: int) -> int:
        total = 0
        for width in dense_hidden:
            total, inputs = total + dense(inputs, width), width
        return total

    if len(sample_shape) == 3:
        reduced = sample_shape[-1] // 2 ** len(conv_channels)
        trunk, previous = 0, 1
        for width in conv_channels:
            trunk, previous = trunk + conv(previous, width), width
        trunk += dense(previous * reduced**2, fc_units)
        deep, shallow = conv_channels[-1], conv_channels[0]
        batch_norms = 2 * (fc_units + deep + shallow)  # shift and (frozen) scale
        generator = (
            dense(latent_dim, fc_units) + dense(fc_units, deep * reduced**2)
            + conv(deep, shallow) + conv(shallow, 1) + batch_norms
        )  # fmt: skip
        return generator + 2 * trunk + dense(fc_units, 1) + dense(fc_units, latent_dim)
    (dim,) = sample_shape
    width = dense_hidden[-1]
    generator = mlp(latent_dim) + dense(width, dim)
    return generator + 2 * mlp(dim) + dense(width, 1) + dense(width, latent_dim)


def clustergan_memory_mb(n: int, d: int) -> float:
    """Peak MiB: weights, gradients and two Adam moments of the three networks, a resumed
    checkpoint's copy of them, the data twice, and a margin for activations.

    ``d`` does not tell images from text, so this is the larger of the two architectures
    (the image one for D = 1024 = 32×32).
    """
    counts = [
        parameter_count(shape, MEMORY_LATENT_DIM, (64, 128), 1024, (256, 256))
        for shape in ((1, IMAGE_SIDE, IMAGE_SIDE), (d,))
    ]
    weights_mb = max(counts) * 4 / 2**20
    return TORCH_PROCESS_BASELINE_MB + 7 * weights_mb + 2 * n * d * 4 / 2**20 + 100


BUDGET = (
    "choice: CPU budget, about {} per run on one idle thread ({}); the reference code "
    "runs up to 500,000 iterations — see results/clustergan/README.md"
)
SNAPSHOTS = "choice: ten points of the ACC-against-iterations curve (no effect on training)"
REFERENCE = "reference code: Image_ClusterGAN.py"

METHOD = MethodInfo(
    id="clustergan",
    name="ClusterGAN",
    kind="paper",
    view="auto",
    estimator="estimators/clustergan.py:ClusterGAN",
    memory_mb=clustergan_memory_mb,
    variants={"": {"readout": "kmeans"}, "argmax": {"readout": "argmax"}},
    defaults={
        "*": {
            "readout": Param(
                "kmeans", "reference code: recon_enc, k-means on the encoding (variant 'argmax')"
            ),
            "n_iterations": Param(60, BUDGET.format("4 minutes", "images, n = 1,000: 3.5-4 s")),
            "snapshot_every": Param(6, SNAPSHOTS),
            "noise_dim": Param(30, REFERENCE + " --dz 30 (paper: d_n = 30 for Fashion-MNIST)"),
            "noise_std": Param(0.1, "paper: σ = 0.1; reference code util.sample_Z"),
            "beta_n": Param(10.0, REFERENCE + " --beta_n 10 (paper: β_n = 10)"),
            "beta_c": Param(10.0, REFERENCE + " --beta_c 10 (paper: β_c = 10)"),
            "penalty_weight": Param(10.0, REFERENCE + ": scale = 10.0 (WGAN-GP's λ)"),
            "critic_steps": Param(5, REFERENCE + ": d_iters = 5"),
            "batch_size": Param(64, REFERENCE + " --bs 64"),
            "lr": Param(1e-4, REFERENCE + ": Adam learning_rate = 1e-4"),
            "adam_betas": Param((0.5, 0.9), REFERENCE + ": Adam beta1 = 0.5, beta2 = 0.9"),
            "conv_channels": Param((64, 128), "reference code: fashion/clus_wgan.py"),
            "fc_units": Param(1024, "reference code: fashion/clus_wgan.py"),
            "dense_hidden": Param(
                (256, 256), "reference code: 10x_73k/mlp.py (its MLPs for real-valued vectors)"
            ),
            "output_activation": Param("sigmoid", "reference code: fashion/clus_wgan.py"),
            "kmeans_n_init": Param(
                10, "reference code: sklearn KMeans of the time (n_init = 10) in _eval_cluster"
            ),
        },
        "bbc": {
            "n_iterations": Param(3000, BUDGET.format("4 minutes", "MLPs on 256 features: 0.08 s")),
            "snapshot_every": Param(300, SNAPSHOTS),
            "output_activation": Param(
                "linear",
                "reference code: 10x_73k/mlp.py (linear output; TF-IDF→SVD features are signed)",
            ),
        },
        "20newsgroups": {
            "n_iterations": Param(
                3000,
                BUDGET.format("12 minutes", "the same iterations as bbc; 512 features: 0.24 s"),
            ),
            "snapshot_every": Param(300, SNAPSHOTS),
            "output_activation": Param(
                "linear",
                "reference code: 10x_73k/mlp.py (linear output; TF-IDF→SVD features are signed)",
            ),
        },
    },
    description="ClusterGAN: WGAN-GP with a Gaussian + one-hot latent and an inverting "
    "encoder; k-means on the encoding (default) or argmax of its one-hot part.",
)
