"""The self-expression layer of DSC-Net: codes Z ↦ ZC with an n×n C, no bias, no activation.

Ji et al. (NeurIPS 2017) and LRSC (Li et al., AAAI 2021) Eq. (1)-(2) write the codes as
columns, ``Z ≈ ZC``, with ``diag(C) = 0``. Here codes are the rows of ``Z`` (n × d), so
the layer returns ``Cᵀ Z``; ``C`` keeps the papers' orientation (column j writes point j
as a combination of the others).

The layer is built for full-batch training at n = 10,000 on a CPU, where C alone takes
400 MB: the n×n gradient of the loss with respect to C is never materialised. Its
forward product goes through a custom autograd function that hands autograd the
gradient for Z and keeps the small n×d gradient of the product; the coefficient
optimiser (:mod:`benchmark.deep.coefficient_adam`) then builds the gradient of C one
block of rows at a time (``Z[rows] @ Gᵀ`` plus the regulariser's gradient) and updates
C in place. ``diag(C) = 0`` holds exactly: C starts with a zero diagonal, the diagonal
of every gradient block is zeroed (so the optimiser state stays zero there) and the
diagonal is zeroed again after each update.
"""

from __future__ import annotations

from typing import Any

import torch

REGULARIZERS = ("l1", "l2")
"""``l1``: ‖C‖₁ (DSCN-L1); ``l2``: ‖C‖²_F (DSCN-L2, squared as in the reference code)."""


def check_regularizer(kind: str) -> str:
    """Return ``kind`` if it names a known regulariser, else raise with the choices."""
    if kind not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {kind!r}; choose one of {REGULARIZERS}")
    return kind


def regularizer_value(coef: torch.Tensor, kind: str, block_rows: int = 256) -> float:
    """‖C‖₁ or ‖C‖²_F, summed in float64 one block of rows at a time (no n×n temporary)."""
    order = 1 if check_regularizer(kind) == "l1" else 2
    total = 0.0
    for start in range(0, coef.shape[0], block_rows):
        block = coef[start : start + block_rows]
        total += float(torch.linalg.vector_norm(block, ord=order, dtype=torch.float64) ** order)
    return total


def add_regularizer_gradient(
    out: torch.Tensor, coef_rows: torch.Tensor, kind: str, weight: float
) -> None:
    """``out += weight · ∂R/∂C`` on a block of rows: sign(C) for ‖C‖₁, 2C for ‖C‖²_F.

    The L1 subgradient at 0 is taken as 0 (``torch.sign``), as in TensorFlow.
    """
    if weight == 0:
        return
    if check_regularizer(kind) == "l1":
        out.add_(torch.sign(coef_rows), alpha=weight)
    else:
        out.add_(coef_rows, alpha=2.0 * weight)


class _SelfExpressionProduct(torch.autograd.Function):
    """``P = Cᵀ Z`` whose backward returns ∂L/∂Z = C G and leaves G = ∂L/∂P to the layer."""

    @staticmethod
    def forward(
        ctx: Any, codes: torch.Tensor, coef: torch.Tensor, layer: SelfExpressionLayer
    ) -> torch.Tensor:
        ctx.layer = layer
        ctx.save_for_backward(coef)
        return coef.t().mm(codes)

    @staticmethod
    def backward(ctx: Any, grad_product: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (coef,) = ctx.saved_tensors
        ctx.layer.product_grad = grad_product.detach()
        return coef.mm(grad_product), None, None


class SelfExpressionLayer:
    """Holds C (n×n, zero diagonal) and turns the last backward pass into gradient blocks.

    ``forward(Z)`` returns ``Cᵀ Z`` (paper: ZC). After ``loss.backward()``,
    :meth:`gradient_rows` gives rows of ∂L/∂C for the part of the loss that depends on C
    through the product; the regulariser is added by the optimiser.
    """

    def __init__(self, n: int, init_value: float, device: torch.device) -> None:
        if n < 2:
            raise ValueError(f"the self-expression layer needs at least 2 points, got {n}")
        self.coef = torch.full((n, n), float(init_value), dtype=torch.float32, device=device)
        self.coef.fill_diagonal_(0.0)
        self.codes: torch.Tensor | None = None
        self.product_grad: torch.Tensor | None = None

    @property
    def n(self) -> int:
        """Number of points."""
        return self.coef.shape[0]

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Self-expressed codes ``Cᵀ Z`` for row codes ``Z`` (n × d)."""
        if codes.shape[0] != self.n:
            raise ValueError(
                f"the self-expression layer holds {self.n} points but got {codes.shape[0]} "
                f"codes; fine-tuning is full-batch"
            )
        self.codes = codes.detach()
        self.product_grad = None
        return _SelfExpressionProduct.apply(codes, self.coef, self)

    def gradient_rows(self, start: int, stop: int, out: torch.Tensor) -> torch.Tensor:
        """Write rows ``start:stop`` of ∂L/∂C = Z Gᵀ into ``out`` and return it."""
        if self.codes is None or self.product_grad is None:
            raise RuntimeError("call forward() and loss.backward() before asking for gradients")
        return torch.mm(self.codes[start:stop], self.product_grad.t(), out=out)
