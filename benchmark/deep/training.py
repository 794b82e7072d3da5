"""The two training stages of the deep self-expressive methods, resumable from checkpoints.

1. :func:`pretrain`: mini-batch Adam on the auto-encoder alone (no self-expression
   layer) on the objective's ``pretrain`` terms (DSC-Net: the reconstruction loss
   ½‖X − X̂‖², sum over samples and entries).
2. :func:`finetune`: full-batch Adam on the whole network and C with the objective's
   ``finetune`` terms; for DSC-Net that is LRSC Eq. (1),

       L = ½‖X − X̂‖² + λ1/2 ‖Z − ZC‖² + λ2 R(C),   diag(C) = 0,   X̂ = Φd(ZC),

   where R is ‖C‖₁ (DSCN-L1) or ‖C‖²_F (DSCN-L2); every norm is a plain sum over all
   entries (no mean), so λ1 and λ2 keep the paper's meaning whatever n and D are.
   Auxiliary networks (:class:`benchmark.deep.objective.Auxiliary`) take their own step
   on each epoch's detached forward pass before the main loss is formed.

Both stages save their full state (weights, optimiser moments, auxiliary networks, data
order generator, loss history) through a :class:`benchmark.checkpoint.Checkpoint` every
``every`` epochs, and continue from a saved state bit-for-bit on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from benchmark.checkpoint import Checkpoint
from benchmark.deep.coefficient_adam import CoefficientAdam
from benchmark.deep.objective import Batch, Objective
from benchmark.deep.self_expression import SelfExpressionLayer, regularizer_value

Progress = Callable[[int, float, dict[str, float]], None]
"""``progress(epoch, objective, term_values)``, called after every epoch."""


def _save(
    checkpoint: Checkpoint | None, epoch: int, extra: dict[str, Any] | None, state: dict
) -> None:
    if checkpoint is not None and checkpoint.due(epoch):
        checkpoint.save({**(extra or {}), "epoch": epoch, **state})


def _auxiliary_rows(
    auxiliary: Mapping[str, torch.Tensor], indices: torch.Tensor
) -> dict[str, torch.Tensor]:
    return {name: values[indices] for name, values in auxiliary.items()}


def pretrain(
    model: nn.Module,
    data: torch.Tensor,
    objective: Objective,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    checkpoint: Checkpoint | None = None,
    resume: dict[str, Any] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    auxiliary: Mapping[str, torch.Tensor] | None = None,
    progress: Progress | None = None,
) -> list[float]:
    """Train the auto-encoder on the ``pretrain`` terms; returns the loss of each epoch.

    ``resume`` is a state this function saved (stage ``"pretrain"``); ``checkpoint_extra``
    is stored alongside each save (the caller's key, to recognise its own state).
    ``auxiliary`` holds full-length side inputs that terms index by the batch.
    """
    n = data.shape[0]
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    auxiliary = dict(auxiliary or {})
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
        values: dict[str, float] = {}
        for batch_indices in order.split(batch_size):
            x = data[batch_indices]
            codes = model.encode(x)
            batch = Batch(
                stage="pretrain",
                epoch=epoch,
                data=x,
                codes=codes,
                reconstruction=model.decode(codes),
                indices=batch_indices,
                auxiliary=_auxiliary_rows(auxiliary, batch_indices),
            )
            loss, batch_values = objective.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            for name, value in batch_values.items():
                values[name] = values.get(name, 0.0) + value
        history.append(total)
        if progress is not None:
            progress(epoch + 1, total, values)
        _save(
            checkpoint,
            epoch + 1,
            checkpoint_extra,
            {
                "stage": "pretrain",
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "order_generator": order_generator.get_state(),
                "history": history,
            },
        )
    return history


def finetune(
    model: nn.Module,
    data: torch.Tensor,
    layer: SelfExpressionLayer,
    objective: Objective,
    epochs: int,
    lr: float,
    checkpoint: Checkpoint | None = None,
    resume: dict[str, Any] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    auxiliary: Mapping[str, torch.Tensor] | None = None,
    progress: Progress | None = None,
) -> list[float]:
    """Full-batch Adam on the ``finetune`` terms; returns the objective before each update.

    The network and C share the learning rate, as in the reference code (one Adam over
    all variables). ``resume`` is a state this function saved (stage ``"finetune"``).
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    network_optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    coef_optimizer = CoefficientAdam(
        layer, lr=lr, regularizer=objective.regularizer, weight=objective.regularizer_weight
    )
    auxiliaries = objective.active_auxiliaries("finetune")
    indices = torch.arange(data.shape[0], device=data.device)
    history: list[float] = []
    start = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        network_optimizer.load_state_dict(resume["network_optimizer"])
        layer.coef.copy_(resume["coef"])
        coef_optimizer.load_state_dict(resume["coef_optimizer"])
        for aux in auxiliaries:
            aux.load_state_dict(resume["auxiliaries"][aux.name])
        history = list(resume["history"])
        start = int(resume["epoch"])
    model.train()
    for epoch in range(start, epochs):
        codes = model.encode(data)
        expressed = layer.forward(codes)
        batch = Batch(
            stage="finetune",
            epoch=epoch,
            data=data,
            codes=codes,
            reconstruction=model.decode(expressed),
            indices=indices,
            expressed=expressed,
            coef=layer.coef,
            auxiliary=dict(auxiliary or {}),
        )
        for aux in auxiliaries:
            aux.update(batch.detached())
        loss, values = objective.loss(batch)
        network_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        history.append(
            float(loss.detach())
            + objective.regularizer_weight * regularizer_value(layer.coef, objective.regularizer)
        )
        network_optimizer.step()
        coef_optimizer.step()
        del codes, expressed, batch, loss
        if progress is not None:
            progress(epoch + 1, history[-1], values)
        _save(
            checkpoint,
            epoch + 1,
            checkpoint_extra,
            {
                "stage": "finetune",
                "model": model.state_dict(),
                "network_optimizer": network_optimizer.state_dict(),
                "coef": layer.coef,
                "coef_optimizer": coef_optimizer.state_dict(),
                "auxiliaries": {aux.name: aux.state_dict() for aux in auxiliaries},
                "history": history,
            },
        )
    return history


def final_objective(
    model: nn.Module,
    data: torch.Tensor,
    layer: SelfExpressionLayer,
    objective: Objective,
    auxiliary: Mapping[str, torch.Tensor] | None = None,
) -> tuple[float, dict[str, float]]:
    """The fine-tuning objective at the current network and C (no gradient), and its terms."""
    with torch.no_grad():
        codes = model.encode(data)
        expressed = layer.coef.t().mm(codes)
        batch = Batch(
            stage="finetune",
            epoch=-1,
            data=data,
            codes=codes,
            reconstruction=model.decode(expressed),
            indices=torch.arange(data.shape[0], device=data.device),
            expressed=expressed,
            coef=layer.coef,
            auxiliary=dict(auxiliary or {}),
        )
        loss, values = objective.loss(batch)
    regularizer = regularizer_value(layer.coef, objective.regularizer)
    values[f"regularizer_{objective.regularizer}"] = regularizer
    return float(loss) + objective.regularizer_weight * regularizer, values
