"""The deep self-expressive core shared by DSC-Net, DASC, DPSC and LRSC.

Auto-encoders (:mod:`.autoencoders`), the self-expression layer and its fused optimiser
(:mod:`.self_expression`, :mod:`.coefficient_adam`), the objective as named, weighted
loss terms and auxiliary networks (:mod:`.objective`), the two training stages of
Algorithm 2 (:mod:`.training`), caches of pretrained networks and fine-tuned C
(:mod:`.artifact_cache`), the memory guard (:mod:`.memory`), the estimator that puts
them together (:mod:`.estimator`) and DSC-Net's settings (:mod:`.dscn`).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "artifact_cache": ("ArtifactCache", "array_digest"),
    "autoencoders": ("ConvAutoEncoder", "DenseAutoEncoder", "build_autoencoder"),
    "estimator": ("DeepSelfExpressiveClustering", "TrainingContext", "resolve_device"),
    "memory": ("MemoryBudgetError", "check_finetune_memory", "task_memory_mb"),
    "network_defaults": ("values_per_sample",),
    "objective": (
        "Auxiliary", "Batch", "LossTerm", "Objective", "Reconstruction", "SelfExpression",
        "Weighted",
    ),
    "self_expression": ("REGULARIZERS", "SelfExpressionLayer"),
    "training": ("finetune", "pretrain"),
}  # fmt: skip
"""Where each public name lives. Names are imported on first use (PEP 562), so that
importing a torch-free module of this package (settings, memory formulas) does not
import PyTorch."""
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


__all__ = [
    "REGULARIZERS",
    "ArtifactCache",
    "Auxiliary",
    "Batch",
    "ConvAutoEncoder",
    "DeepSelfExpressiveClustering",
    "DenseAutoEncoder",
    "LossTerm",
    "MemoryBudgetError",
    "Objective",
    "Reconstruction",
    "SelfExpression",
    "SelfExpressionLayer",
    "TrainingContext",
    "Weighted",
    "array_digest",
    "build_autoencoder",
    "check_finetune_memory",
    "finetune",
    "pretrain",
    "resolve_device",
    "task_memory_mb",
    "values_per_sample",
]
