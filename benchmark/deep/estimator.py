"""Deep self-expressive clustering: DSC-Net, the base model of DASC, DPSC and LRSC.

Ji, Zhang, Li, Salzmann & Reid, "Deep Subspace Clustering Networks", NeurIPS 2017; in
the notation of LRSC (Li et al., AAAI 2021), Eq. (1)-(2) and Algorithm 2 (Eq. (9) with
μ = γ = 0 and a random initialisation).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep.artifact_cache import ArtifactCache, array_digest
from benchmark.deep.autoencoders import INITIALISATION, build_autoencoder, values_per_sample
from benchmark.deep.memory import check_finetune_memory
from benchmark.deep.self_expression import SelfExpressionLayer, check_regularizer
from benchmark.deep.training import PRETRAIN_OBJECTIVE, final_objective, finetune, pretrain
from benchmark.selfexpressive import SelfExpressiveClustering
from benchmark.spectral import dsc_postprocess

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else the CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available; use 'auto'")
    return device


class DeepSelfExpressiveClustering(SelfExpressiveClustering):
    """DSC-Net (Ji et al., NeurIPS 2017): auto-encoder + self-expression layer, then spectral.

    Implements LRSC (Li et al., AAAI 2021) Eq. (1)-(2) with Algorithm 2:

        min ½‖X − X̂‖² + λ1/2 ‖Z − ZC‖² + λ2 R(C)   s.t. diag(C) = 0,
        Z = Φe(X), X̂ = Φd(ZC),

    R(C) = ‖C‖₁ (``regularizer="l1"``, DSCN-L1) or ‖C‖²_F (``"l2"``, DSCN-L2). Stage 1
    pretrains the auto-encoder on ½‖X − X̂‖² with mini-batches; stage 2 fine-tunes the
    network and C full-batch with Adam. The affinity is ½(|C| + |Cᵀ|) (or DSC-Net's
    post-processing, ``post_process=True``) followed by spectral clustering.

    ``fit`` takes images (n, C, H, W), clustered with the convolutional auto-encoder
    (``conv_channels``, ``kernel_size``), or vectors (n, D), clustered with the fully
    connected one (``dense_hidden``). Float32 throughout; CUDA when available
    (``device="auto"``); on the CPU a run is reproducible from ``random_state``.

    Pretrained auto-encoders and fine-tuned C are cached under the data home
    (``use_cache``; see :mod:`benchmark.deep.artifact_cache`), so methods sharing a
    pretraining pretrain once and the readout variants of a method fine-tune once. With
    a ``checkpoint``, the state is saved every ``checkpoint.every`` epochs of either
    stage and a rerun resumes from it. Before C is allocated the memory need is checked
    against ``memory_budget_mb`` (default: free memory).

    Learned attributes: ``coef_`` (n×n, paper's C), ``affinity_matrix_``, ``labels_``,
    ``objective_`` (Eq. (1) at the end), ``n_iter_`` (fine-tuning epochs),
    ``pretrain_loss_`` and ``finetune_loss_`` (per-epoch histories), ``pretrain_cached_``
    and ``coef_cached_`` (whether a cache entry was used).
    """

    def __init__(
        self,
        n_clusters: int = 2,
        random_state: int | None = None,
        regularizer: str = "l2",
        lambda1: float = 1.0,
        lambda2: float = 1.0,
        conv_channels: Sequence[int] = (10, 20, 30, 40),
        kernel_size: int = 3,
        dense_hidden: Sequence[int] = (128,),
        output_activation: str = "relu",
        pretrain_epochs: int = 100,
        pretrain_lr: float = 1e-3,
        pretrain_batch_size: int = 256,
        finetune_epochs: int = 100,
        finetune_lr: float = 1e-3,
        coef_init: float = 1e-4,
        post_process: bool = False,
        post_subspace_dim: int = 12,
        post_alpha: float = 8.0,
        post_keep_fraction: float = 1.0,
        device: str = "auto",
        memory_budget_mb: float | None = None,
        use_cache: bool = True,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.regularizer = regularizer
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.conv_channels = conv_channels
        self.kernel_size = kernel_size
        self.dense_hidden = dense_hidden
        self.output_activation = output_activation
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr = pretrain_lr
        self.pretrain_batch_size = pretrain_batch_size
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.coef_init = coef_init
        self.post_process = post_process
        self.post_subspace_dim = post_subspace_dim
        self.post_alpha = post_alpha
        self.post_keep_fraction = post_keep_fraction
        self.device = device
        self.memory_budget_mb = memory_budget_mb
        self.use_cache = use_cache
        self.checkpoint = checkpoint

    # -- input --------------------------------------------------------------------

    def _validate_input(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim not in (2, 4):
            raise ValueError(
                f"expected vectors (n, D) or images (n, C, H, W), got an array of shape {X.shape}"
            )
        if X.ndim == 2:
            return super()._validate_input(X).astype(np.float32, copy=False)
        super()._validate_input(X.reshape(X.shape[0], -1))
        return np.ascontiguousarray(X, dtype=np.float32)

    # -- cache keys ---------------------------------------------------------------

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**31))
        return int(self.random_state)

    def _architecture(self, sample_shape: tuple[int, ...]) -> dict[str, Any]:
        if len(sample_shape) == 3:
            layers = {"conv_channels": list(self.conv_channels), "kernel_size": self.kernel_size}
        else:
            layers = {"dense_hidden": list(self.dense_hidden)}
        return {
            "sample_shape": list(sample_shape),
            **layers,
            "output_activation": self.output_activation,
            "initialisation": INITIALISATION,
        }

    def _pretrain_objective(self) -> str:
        """What stage 1 minimises; methods that pretrain differently override this."""
        return PRETRAIN_OBJECTIVE

    def _pretrain_key(self, data_digest: str, sample_shape: tuple[int, ...], seed: int) -> dict:
        return {
            "data": data_digest,
            "seed": seed,
            "architecture": self._architecture(sample_shape),
            "pretraining": {
                "objective": self._pretrain_objective(),
                "epochs": self.pretrain_epochs,
                "lr": self.pretrain_lr,
                "batch_size": self.pretrain_batch_size,
            },
        }

    def _finetune_settings(self) -> dict[str, Any]:
        """Every setting of stage 2 (the post-processing ones are not: they read C out)."""
        return {
            "model": type(self).__name__,
            "regularizer": self.regularizer,
            "lambda1": self.lambda1,
            "lambda2": self.lambda2,
            "epochs": self.finetune_epochs,
            "lr": self.finetune_lr,
            "coef_init": self.coef_init,
        }

    # -- the two stages -----------------------------------------------------------

    def _self_expression(self, X: np.ndarray) -> np.ndarray:
        check_regularizer(self.regularizer)
        device = resolve_device(self.device)
        sample_shape = tuple(int(s) for s in X.shape[1:])
        seed = self._seed()
        model = build_autoencoder(
            sample_shape,
            self.conv_channels,
            self.kernel_size,
            self.dense_hidden,
            self.output_activation,
            seed,
        ).to(device)
        values = values_per_sample(sample_shape, self.conv_channels, self.dense_hidden)
        check_finetune_memory(X.shape[0], values, device, self.memory_budget_mb)
        pretrain_key = self._pretrain_key(array_digest(X), sample_shape, seed)
        coef_key = {**pretrain_key, "finetuning": self._finetune_settings()}
        data = torch.from_numpy(X).to(device)
        if not self.use_cache:
            result = self._train(model, data, seed, pretrain_key, coef_key)
            self.coef_cached_ = False
        else:
            result, self.coef_cached_ = ArtifactCache("coefficients").get_or_build(
                coef_key, lambda: self._train(model, data, seed, pretrain_key, coef_key)
            )
        if self.coef_cached_:
            self.pretrain_cached_ = True
        self.pretrain_loss_ = list(result["pretrain_loss"])
        self.finetune_loss_ = list(result["finetune_loss"])
        self.objective_ = float(result["objective"])
        self.n_iter_ = len(self.finetune_loss_)
        return result["coef"].numpy()

    def _train(
        self,
        model: torch.nn.Module,
        data: torch.Tensor,
        seed: int,
        pretrain_key: dict,
        coef_key: dict,
    ) -> dict[str, Any]:
        """Pretrain (or take the cached auto-encoder) and fine-tune, resuming if saved."""
        state = self._saved_state(coef_key)
        if state is not None and state["stage"] == "finetune":
            self.pretrain_cached_ = False
            pretrain_loss = list(state["pretrain_loss"])
        else:
            pretrained = self._pretrained(model, data, seed, pretrain_key, coef_key, state)
            model.load_state_dict(pretrained["model"])
            pretrain_loss = list(pretrained["history"])
            state = None
        layer = SelfExpressionLayer(data.shape[0], self.coef_init, data.device)
        history = finetune(
            model,
            data,
            layer,
            self.lambda1,
            self.lambda2,
            self.regularizer,
            self.finetune_epochs,
            self.finetune_lr,
            checkpoint=self.checkpoint,
            resume=state,
            checkpoint_extra={"key": coef_key, "pretrain_loss": pretrain_loss},
            progress=self._log_progress,
        )
        objective = final_objective(
            model, data, layer, self.lambda1, self.lambda2, self.regularizer
        )
        return {
            "coef": layer.coef.cpu(),
            "pretrain_loss": pretrain_loss,
            "finetune_loss": history,
            "objective": objective,
        }

    def _pretrained(
        self,
        model: torch.nn.Module,
        data: torch.Tensor,
        seed: int,
        pretrain_key: dict,
        coef_key: dict,
        state: dict[str, Any] | None,
    ) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            history = pretrain(
                model,
                data,
                self.pretrain_epochs,
                self.pretrain_lr,
                self.pretrain_batch_size,
                seed,
                checkpoint=self.checkpoint,
                resume=state,
                checkpoint_extra={"key": coef_key},
            )
            weights = {name: tensor.cpu() for name, tensor in model.state_dict().items()}
            return {"model": weights, "history": history}

        if not self.use_cache:
            self.pretrain_cached_ = False
            return build()
        value, self.pretrain_cached_ = ArtifactCache("pretrained").get_or_build(pretrain_key, build)
        return value

    def _log_progress(self, epoch: int, objective: float) -> None:
        if epoch % max(1, self.finetune_epochs // 10) == 0 or epoch == self.finetune_epochs:
            log.info(
                "fine-tuning epoch %d/%d: Eq. (1) = %.6g", epoch, self.finetune_epochs, objective
            )

    def _saved_state(self, coef_key: dict) -> dict[str, Any] | None:
        """The checkpointed state of this very configuration, if any."""
        if self.checkpoint is None:
            return None
        state = self.checkpoint.load()
        if state is None:
            return None
        if state.get("key") != coef_key:
            log.warning("ignoring checkpoint %s: saved by another configuration", self.checkpoint)
            return None
        log.info("resuming from %s (%s, epoch %d)", self.checkpoint, state["stage"], state["epoch"])
        return state

    # -- readout ------------------------------------------------------------------

    def _affinity(self, coef: np.ndarray | sp.spmatrix) -> np.ndarray | sp.spmatrix:
        """½(|C| + |Cᵀ|), or DSC-Net post-processing applied as the reference code does.

        The reference code's coefficient variable multiplies row codes (``Coef @ z``),
        so it is Cᵀ in the paper's orientation, and its ``thrC`` keeps the largest
        entries of each of *its* columns; we pass Cᵀ to match.
        """
        if not self.post_process:
            return super()._affinity(coef)
        return dsc_postprocess(
            np.asarray(coef).T,
            self.n_clusters,
            subspace_dim=self.post_subspace_dim,
            alpha=self.post_alpha,
            keep_fraction=self.post_keep_fraction,
        )
