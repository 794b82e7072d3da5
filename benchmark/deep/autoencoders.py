"""Auto-encoders of the deep self-expressive models (DSC-Net and the methods built on it).

* :class:`ConvAutoEncoder`: the image network of LRSC's implementation details (Li et al.,
  AAAI 2021) and DSC-Net (Ji et al., NeurIPS 2017): stacked 3×3 convolutions with stride 2
  and ReLU (channels 10-20-30-40 on 1×32×32 inputs), and a mirrored decoder of transposed
  convolutions. Weights are Glorot-uniform ("Xavier", as in the DSC-Net reference code),
  biases zero.
* :class:`DenseAutoEncoder`: the text network: fully connected layers with ReLU (LRSC uses
  one layer in the encoder and one in the decoder).

Both map ``x`` to a latent tensor and back; :meth:`encode` returns codes flattened to
``(n, latent_dim)`` (what the self-expression layer acts on) and :meth:`decode` takes them
in that flat form.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from benchmark.deep.network_defaults import values_per_sample as values_per_sample

INITIALISATION = "xavier-uniform weights, zero biases"
"""How the auto-encoders are initialised (part of the pretraining cache key)."""

OUTPUT_ACTIVATIONS = ("relu", "linear")


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "linear":
        return nn.Identity()
    raise ValueError(f"unknown output activation {name!r}; choose one of {OUTPUT_ACTIVATIONS}")


def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)


class ConvAutoEncoder(nn.Module):
    """Convolutional auto-encoder: ``len(channels)`` stride-2 convolutions and their mirror.

    Each encoder layer halves the height and width (kernel ``kernel_size``, padding
    ``kernel_size // 2``); each decoder layer doubles them back. ReLU follows every
    layer; the decoder's last activation is ``output_activation``.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        channels: Sequence[int],
        kernel_size: int,
        output_activation: str,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        in_channels, height, width = (int(s) for s in image_shape)
        factor = 2 ** len(channels)
        if height % factor or width % factor:
            raise ValueError(
                f"images of {height}×{width} cannot pass {len(channels)} stride-2 layers "
                f"evenly; use sizes divisible by {factor} (the datasets give 32×32)"
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        padding = kernel_size // 2
        widths = [in_channels, *channels]
        encoder: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            encoder += [
                nn.Conv2d(c_in, c_out, kernel_size, stride=2, padding=padding),
                nn.ReLU(inplace=True),
            ]
        decoder: list[nn.Module] = []
        mirrored = widths[::-1]
        for i, (c_in, c_out) in enumerate(zip(mirrored[:-1], mirrored[1:], strict=True)):
            last = i == len(channels) - 1
            decoder += [
                nn.ConvTranspose2d(
                    c_in, c_out, kernel_size, stride=2, padding=padding, output_padding=1
                ),
                _activation(output_activation if last else "relu"),
            ]
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)
        self.latent_shape = (channels[-1], height // factor, width // factor)
        _init_weights(self, generator)
        self.to(memory_format=torch.channels_last)

    @property
    def latent_dim(self) -> int:
        """Length of a flattened code."""
        c, h, w = self.latent_shape
        return c * h * w

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of the images ``x`` (n, C, H, W), flattened to (n, latent_dim)."""
        return self.encoder(x.contiguous(memory_format=torch.channels_last)).flatten(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images reconstructed from flat codes ``z`` (n, latent_dim)."""
        return self.decoder(z.view(z.shape[0], *self.latent_shape))


class DenseAutoEncoder(nn.Module):
    """Fully connected auto-encoder: layers ``input_dim → hidden[0] → … → hidden[-1]`` and back.

    ReLU follows every layer; the decoder's last activation is ``output_activation``.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int],
        output_activation: str,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("a dense auto-encoder needs at least one hidden layer size")
        widths = [int(input_dim), *(int(h) for h in hidden)]
        encoder: list[nn.Module] = []
        for d_in, d_out in zip(widths[:-1], widths[1:], strict=True):
            encoder += [nn.Linear(d_in, d_out), nn.ReLU(inplace=True)]
        decoder: list[nn.Module] = []
        mirrored = widths[::-1]
        for i, (d_in, d_out) in enumerate(zip(mirrored[:-1], mirrored[1:], strict=True)):
            last = i == len(hidden) - 1
            decoder += [nn.Linear(d_in, d_out), _activation(output_activation if last else "relu")]
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)
        self.latent_dim = widths[-1]
        _init_weights(self, generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of the vectors ``x`` (n, input_dim)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Vectors reconstructed from codes ``z`` (n, latent_dim)."""
        return self.decoder(z)


def build_autoencoder(
    sample_shape: Sequence[int],
    conv_channels: Sequence[int],
    kernel_size: int,
    dense_hidden: Sequence[int],
    output_activation: str,
    seed: int,
) -> ConvAutoEncoder | DenseAutoEncoder:
    """The convolutional network for (C, H, W) samples, the dense one for flat vectors."""
    generator = torch.Generator().manual_seed(int(seed))
    if len(sample_shape) == 3:
        return ConvAutoEncoder(
            sample_shape, conv_channels, kernel_size, output_activation, generator
        )
    if len(sample_shape) == 1:
        return DenseAutoEncoder(sample_shape[0], dense_hidden, output_activation, generator)
    raise ValueError(
        f"samples must be vectors (D,) or images (C, H, W); got sample shape {tuple(sample_shape)}"
    )
