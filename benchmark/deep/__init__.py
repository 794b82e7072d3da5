"""The deep self-expressive core shared by DSC-Net, DASC, DPSC and LRSC.

Auto-encoders (:mod:`.autoencoders`), the self-expression layer and its fused optimiser
(:mod:`.self_expression`, :mod:`.coefficient_adam`), the objective as named, weighted
loss terms and auxiliary networks (:mod:`.objective`), the two training stages of
Algorithm 2 (:mod:`.training`), caches of pretrained networks and fine-tuned C
(:mod:`.artifact_cache`), the memory guard (:mod:`.memory`), the estimator that puts
them together (:mod:`.estimator`) and DSC-Net's settings (:mod:`.dscn`).
"""

from benchmark.deep.artifact_cache import ArtifactCache, array_digest
from benchmark.deep.autoencoders import (
    ConvAutoEncoder,
    DenseAutoEncoder,
    build_autoencoder,
    values_per_sample,
)
from benchmark.deep.estimator import (
    DeepSelfExpressiveClustering,
    TrainingContext,
    resolve_device,
)
from benchmark.deep.memory import MemoryBudgetError, check_finetune_memory, task_memory_mb
from benchmark.deep.objective import (
    Auxiliary,
    Batch,
    LossTerm,
    Objective,
    Reconstruction,
    SelfExpression,
    Weighted,
)
from benchmark.deep.self_expression import REGULARIZERS, SelfExpressionLayer
from benchmark.deep.training import finetune, pretrain

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
