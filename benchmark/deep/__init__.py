"""The deep self-expressive core shared by DSC-Net, DASC, DPSC and LRSC.

Auto-encoders (:mod:`.autoencoders`), the self-expression layer and its fused optimiser
(:mod:`.self_expression`, :mod:`.coefficient_adam`), the two training stages of
Algorithm 2 (:mod:`.training`), caches of pretrained networks and fine-tuned C
(:mod:`.artifact_cache`), the memory guard (:mod:`.memory`) and the estimator that puts
them together (:mod:`.estimator`).
"""

from benchmark.deep.artifact_cache import ArtifactCache, array_digest
from benchmark.deep.autoencoders import (
    ConvAutoEncoder,
    DenseAutoEncoder,
    build_autoencoder,
    values_per_sample,
)
from benchmark.deep.estimator import DeepSelfExpressiveClustering, resolve_device
from benchmark.deep.memory import MemoryBudgetError, check_finetune_memory, task_memory_mb
from benchmark.deep.self_expression import REGULARIZERS, SelfExpressionLayer
from benchmark.deep.training import finetune, pretrain

__all__ = [
    "REGULARIZERS",
    "ArtifactCache",
    "ConvAutoEncoder",
    "DeepSelfExpressiveClustering",
    "DenseAutoEncoder",
    "MemoryBudgetError",
    "SelfExpressionLayer",
    "array_digest",
    "build_autoencoder",
    "check_finetune_memory",
    "finetune",
    "pretrain",
    "resolve_device",
    "task_memory_mb",
    "values_per_sample",
]
