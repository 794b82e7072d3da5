"""Adam for the self-expression coefficients, fused with building their gradient.

The update is ``torch.optim.Adam``'s (Kingma & Ba, ICLR 2015; no weight decay, no
AMSGrad), which is also what the DSC-Net reference code runs (TensorFlow's Adam,
whose ε sits in a slightly different place). It walks over blocks of rows of C: build
the block of ∂L/∂C (``Z[rows] Gᵀ`` from :class:`SelfExpressionLayer` plus the
regulariser's gradient), zero its diagonal entries, update the two moment estimates
and C in place, zero C's diagonal. Only one block of gradient and one block of
scratch space exist at a time, so the memory is C plus its two Adam moments.
"""

from __future__ import annotations

import math

import torch

from benchmark.deep.memory import block_rows
from benchmark.deep.self_expression import SelfExpressionLayer, add_regularizer_gradient


class CoefficientAdam:
    """Adam on ``layer.coef`` with the regulariser ``weight · R(C)`` folded into its gradient."""

    def __init__(
        self,
        layer: SelfExpressionLayer,
        lr: float,
        regularizer: str,
        weight: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.layer = layer
        self.lr = float(lr)
        self.regularizer = regularizer
        self.weight = float(weight)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        coef = layer.coef
        self.exp_avg = torch.zeros_like(coef)
        self.exp_avg_sq = torch.zeros_like(coef)
        self.steps = 0
        rows = block_rows(layer.n)
        self._grad = torch.empty((rows, layer.n), dtype=coef.dtype, device=coef.device)
        self._denom = torch.empty_like(self._grad)

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of C from the gradient of the last backward pass."""
        coef, n = self.layer.coef, self.layer.n
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        bias_correction2_sqrt = math.sqrt(1 - beta2**self.steps)
        rows = self._grad.shape[0]
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            grad = self.layer.gradient_rows(start, stop, out=self._grad[: stop - start])
            coef_rows = coef[start:stop]
            add_regularizer_gradient(grad, coef_rows, self.regularizer, self.weight)
            grad.diagonal(offset=start).zero_()
            exp_avg, exp_avg_sq = self.exp_avg[start:stop], self.exp_avg_sq[start:stop]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = torch.sqrt(exp_avg_sq, out=self._denom[: stop - start])
            denom.div_(bias_correction2_sqrt).add_(self.eps)
            coef_rows.addcdiv_(exp_avg, denom, value=-step_size)
            coef_rows.diagonal(offset=start).zero_()

    def state_dict(self) -> dict[str, object]:
        """Moments and step count (C itself is saved by its owner)."""
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "steps": self.steps}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.steps = int(state["steps"])
