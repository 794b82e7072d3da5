"""The two training stages of DSC-Net (LRSC's Algorithm 2), resumable from checkpoints.

1. :func:`pretrain`: mini-batch Adam on the auto-encoder alone (no self-expression
   layer) with the reconstruction loss ½‖X − X̂‖² (sum over samples and entries).
2. :func:`finetune`: full-batch Adam on the whole network and C with LRSC Eq. (1),

       L = ½‖X − X̂‖² + λ1/2 ‖Z − ZC‖² + λ2 R(C),   diag(C) = 0,   X̂ = Φd(ZC),

   where R is ‖C‖₁ (DSCN-L1) or ‖C‖²_F (DSCN-L2); every norm is a plain sum over all
   entries (no mean), so λ1 and λ2 keep the paper's meaning whatever n and D are.

Both stages save their full state (weights, optimiser moments, data order generator,
loss history) through a :class:`benchmark.checkpoint.Checkpoint` every ``every``
epochs, and continue from a saved state bit-for-bit on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from benchmark.checkpoint import Checkpoint
from benchmark.deep.coefficient_adam import CoefficientAdam
from benchmark.deep.self_expression import SelfExpressionLayer, regularizer_value

PRETRAIN_OBJECTIVE = "1/2 ||X - X_hat||^2 (sum), Adam, shuffled mini-batches"
"""What :func:`pretrain` minimises (part of the pretraining cache key)."""

ExtraLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``extra(codes, self_expressed_codes, reconstruction) -> scalar`` added to Eq. (1) by
methods that extend DSC-Net (its gradient reaches C through the self-expressed codes)."""


def reconstruction_loss(data: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """½‖X − X̂‖²_F summed over samples and entries."""
    return 0.5 * torch.sum((reconstruction - data) ** 2)


def self_expression_loss(codes: torch.Tensor, expressed: torch.Tensor) -> torch.Tensor:
    """½‖Z − ZC‖²_F summed over samples and entries (weighted by λ1 in Eq. (1))."""
    return 0.5 * torch.sum((codes - expressed) ** 2)


def pretrain(
    model: nn.Module,
    data: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    checkpoint: Checkpoint | None = None,
    resume: dict[str, Any] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
) -> list[float]:
    """Train the auto-encoder on reconstruction alone; returns the loss of each epoch.

    ``resume`` is a state this function saved (stage ``"pretrain"``); ``checkpoint_extra``
    is stored alongside each save (the caller's key, to recognise its own state).
    """
    n = data.shape[0]
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order_generator = torch.Generator().manual_seed(int(seed))
    history: list[float] = []
    start = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        order_generator.set_state(resume["order_generator"])
        history = list(resume["history"])
        start = int(resume["epoch"])
    model.train()
    for epoch in range(start, epochs):
        order = torch.randperm(n, generator=order_generator).to(data.device)
        total = 0.0
        for batch in order.split(batch_size):
            x = data[batch]
            loss = reconstruction_loss(x, model.decode(model.encode(x)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        history.append(total)
        if checkpoint is not None and checkpoint.due(epoch + 1):
            checkpoint.save(
                {
                    **(checkpoint_extra or {}),
                    "stage": "pretrain",
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "order_generator": order_generator.get_state(),
                    "history": history,
                }
            )
    return history


def finetune(
    model: nn.Module,
    data: torch.Tensor,
    layer: SelfExpressionLayer,
    lambda1: float,
    lambda2: float,
    regularizer: str,
    epochs: int,
    lr: float,
    checkpoint: Checkpoint | None = None,
    resume: dict[str, Any] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    extra_loss: ExtraLoss | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Full-batch Adam on Eq. (1); returns the objective before each epoch's update.

    The network and C share the learning rate, as in the reference code (one Adam over
    all variables). ``resume`` is a state this function saved (stage ``"finetune"``);
    ``progress(epoch, objective)`` is called after every epoch.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if lambda1 < 0 or lambda2 < 0:
        raise ValueError(f"λ1 and λ2 must be >= 0, got {lambda1}, {lambda2}")
    network_optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    coef_optimizer = CoefficientAdam(layer, lr=lr, regularizer=regularizer, weight=lambda2)
    history: list[float] = []
    start = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        network_optimizer.load_state_dict(resume["network_optimizer"])
        layer.coef.copy_(resume["coef"])
        coef_optimizer.load_state_dict(resume["coef_optimizer"])
        history = list(resume["history"])
        start = int(resume["epoch"])
    model.train()
    for epoch in range(start, epochs):
        codes = model.encode(data)
        expressed = layer.forward(codes)
        reconstruction = model.decode(expressed)
        loss = reconstruction_loss(data, reconstruction) + lambda1 * self_expression_loss(
            codes, expressed
        )
        if extra_loss is not None:
            loss = loss + extra_loss(codes, expressed, reconstruction)
        network_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        history.append(float(loss.detach()) + lambda2 * regularizer_value(layer.coef, regularizer))
        network_optimizer.step()
        coef_optimizer.step()
        del codes, expressed, reconstruction, loss
        if progress is not None:
            progress(epoch + 1, history[-1])
        if checkpoint is not None and checkpoint.due(epoch + 1):
            checkpoint.save(
                {
                    **(checkpoint_extra or {}),
                    "stage": "finetune",
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "network_optimizer": network_optimizer.state_dict(),
                    "coef": layer.coef,
                    "coef_optimizer": coef_optimizer.state_dict(),
                    "history": history,
                }
            )
    return history


def final_objective(
    model: nn.Module,
    data: torch.Tensor,
    layer: SelfExpressionLayer,
    lambda1: float,
    lambda2: float,
    regularizer: str,
) -> float:
    """Eq. (1) at the current network and C (no gradient)."""
    with torch.no_grad():
        codes = model.encode(data)
        expressed = layer.coef.t().mm(codes)
        loss = reconstruction_loss(data, model.decode(expressed))
        loss = loss + lambda1 * self_expression_loss(codes, expressed)
    return float(loss) + lambda2 * regularizer_value(layer.coef, regularizer)
