"""Deep self-expressive clustering: DSC-Net, and the base of DASC, DPSC and LRSC.

Ji, Zhang, Li, Salzmann & Reid, "Deep Subspace Clustering Networks", NeurIPS 2017; in
the notation of LRSC (Li et al., AAAI 2021), Eq. (1)-(2) and Algorithm 2 (Eq. (9) with
μ = γ = 0 and a random initialisation). A method built on it is a subclass that adds
its own loss terms and auxiliary networks (:meth:`_extra_objective`), side inputs
(:meth:`_auxiliary_inputs`) or starting weights (:meth:`_initial_weights`); the
training loop, caches, checkpoints, memory guard and readouts are shared.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep.artifact_cache import ArtifactCache, array_digest
from benchmark.deep.autoencoders import INITIALISATION, build_autoencoder, values_per_sample
from benchmark.deep.memory import check_finetune_memory
from benchmark.deep.objective import (
    Auxiliary,
    Objective,
    Reconstruction,
    SelfExpression,
    Weighted,
)
from benchmark.deep.self_expression import SelfExpressionLayer, check_regularizer
from benchmark.deep.training import final_objective, finetune, pretrain
from benchmark.selfexpressive import SelfExpressiveClustering

log = logging.getLogger(__name__)

READOUT_AND_RUNTIME_PARAMS = frozenset(
    {
        "post_process",
        "post_subspace_dim",
        "post_alpha",
        "post_keep_fraction",
        "device",
        "memory_budget_mb",
        "use_cache",
        "checkpoint",
    }
)
"""Parameters that do not change the fine-tuned C (kept out of the coefficient cache key)."""
IN_THE_DATA_DIGEST = frozenset({"input_scale"})
"""Parameters whose effect the cache keys already hold through the digest of the data."""

INPUT_SCALES = ("as-given", "unit-rms")
"""``input_scale``: the data as the dataset gives them, or scaled to mean square 1 per entry."""


def scale_input(X: np.ndarray, input_scale: str) -> np.ndarray:
    """``X`` as given, or divided by its root mean square entry (``"unit-rms"``; in float64,
    then float32), so that the loss weights mean the same at any scale of the data: the
    reconstruction and self-expression terms grow with the square of the data's scale while
    R(C) does not, and X·s gives the input X gives (up to rounding; exactly when s is a
    power of two)."""
    if input_scale not in INPUT_SCALES:
        raise ValueError(f"input_scale must be one of {INPUT_SCALES}, got {input_scale!r}")
    if input_scale == "as-given":
        return X
    wide = X.astype(np.float64)
    rms = float(np.sqrt(np.mean(wide**2)))
    if rms == 0:
        raise ValueError("input_scale='unit-rms' needs data that are not all zero")
    return (wide / rms).astype(np.float32)


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else the CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available; use 'auto'")
    return device


@dataclass(frozen=True)
class TrainingContext:
    """What a method's extra terms may need to know when they are built."""

    n: int
    latent_dim: int
    n_clusters: int
    seed: int
    device: torch.device


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
    stage and a rerun resumes from it. ``input_scale`` (:func:`scale_input`) takes the
    data as given or at unit root mean square, where λ1 and λ2 do not depend on the
    data's scale. Before C is allocated the memory need (core and
    extra terms) is checked against ``memory_budget_mb`` (default: free memory).

    Subclasses declare only their own parameters in ``__init__`` and pass the rest on
    with ``**base``; :meth:`_get_param_names` collects the parameters of every class of
    the hierarchy, so ``get_params``/``clone`` see them all.

    Learned attributes: ``coef_`` (n×n, paper's C), ``affinity_matrix_``, ``labels_``,
    ``objective_`` (the fine-tuning objective at the end), ``objective_terms_`` (its
    unweighted terms), ``n_iter_`` (fine-tuning epochs), ``pretrain_loss_`` and
    ``finetune_loss_`` (per-epoch histories), ``pretrain_cached_`` and ``coef_cached_``
    (whether a cache entry was used), ``latent_codes_`` (n×d float32: the fine-tuned
    encoder's codes Z, what Figure 2 of LRSC shows; ``None`` when C came from a cache
    entry written before codes were kept).
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
        input_scale: str = "as-given",
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
        self.input_scale = input_scale
        self.device = device
        self.memory_budget_mb = memory_budget_mb
        self.use_cache = use_cache
        self.checkpoint = checkpoint

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The named ``__init__`` parameters of this class and of every deep base class."""
        names: set[str] = set()
        for klass in cls.__mro__:
            if not issubclass(klass, DeepSelfExpressiveClustering) or "__init__" not in vars(klass):
                continue
            for parameter in inspect.signature(klass.__init__).parameters.values():
                if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                    continue
                if parameter.name != "self":
                    names.add(parameter.name)
        return sorted(names)

    # -- what a method adds ---------------------------------------------------------

    def _extra_objective(
        self, context: TrainingContext
    ) -> tuple[Sequence[Weighted], Sequence[Auxiliary]]:
        """The method's own weighted loss terms and auxiliary networks (DSC-Net: none)."""
        return (), ()

    def _auxiliary_inputs(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Full-length side inputs for the terms, row i for point i (DSC-Net: none)."""
        return {}

    def _initial_weights(
        self, model: torch.nn.Module, X: np.ndarray, seed: int
    ) -> Mapping[str, torch.Tensor] | None:
        """Weights the auto-encoder starts from (DSC-Net: ``None``, its random init)."""
        return None

    def objective(self, context: TrainingContext) -> Objective:
        """Eq. (1)'s terms (reconstruction, λ1 self-expression, λ2 R(C)) plus the method's."""
        extra_terms, auxiliaries = self._extra_objective(context)
        terms = [
            Weighted(Reconstruction(), 1.0),
            Weighted(SelfExpression(), float(self.lambda1)),
            *extra_terms,
        ]
        return Objective(terms, self.regularizer, float(self.lambda2), auxiliaries)

    # -- fit ----------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> DeepSelfExpressiveClustering:
        """Train, read C out and cluster; ``fit_info_`` then says what was reused."""
        super().fit(X, y)
        self.fit_info_ = self._fit_info()
        return self

    def _fit_info(self) -> dict[str, Any]:
        """What the record keeps about this fit besides C's metrics (subclasses add to it)."""
        return {
            "pretrain_cached": self.pretrain_cached_,
            "coef_cached": self.coef_cached_,
            "objective_terms": self.objective_terms_,
        }

    # -- input --------------------------------------------------------------------

    def _validate_input(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim not in (2, 4):
            raise ValueError(
                f"expected vectors (n, D) or images (n, C, H, W), got an array of shape {X.shape}"
            )
        if X.ndim == 2:
            X = super()._validate_input(X)
        else:
            super()._validate_input(X.reshape(X.shape[0], -1))
        return np.ascontiguousarray(scale_input(X, self.input_scale), dtype=np.float32)

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

    def _training_settings(self) -> dict[str, Any]:
        """Every parameter that shapes the fine-tuned C (not the readout, not the runtime)."""
        params = self.get_params(deep=False)
        return {
            name: params[name]
            for name in sorted(params)
            if name not in READOUT_AND_RUNTIME_PARAMS | IN_THE_DATA_DIGEST
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
        n = X.shape[0]
        context = TrainingContext(n, int(model.latent_dim), int(self.n_clusters), seed, device)
        objective = self.objective(context)
        values = values_per_sample(sample_shape, self.conv_channels, self.dense_hidden)
        check_finetune_memory(
            n,
            values,
            device,
            self.memory_budget_mb,
            extra_bytes=objective.memory_bytes(n, context.latent_dim),
        )
        auxiliary_arrays = self._auxiliary_inputs(X)
        initial = self._initial_weights(model, X, seed)
        if initial is not None:
            model.load_state_dict(initial)
        pretrain_key: dict[str, Any] = {
            "data": array_digest(X),
            "seed": seed,
            "architecture": self._architecture(sample_shape),
            "pretraining": {
                "objective": objective.describe("pretrain"),
                "epochs": self.pretrain_epochs,
                "lr": self.pretrain_lr,
                "batch_size": self.pretrain_batch_size,
            },
        }
        if initial is not None:
            pretrain_key["initial_weights"] = {
                name: array_digest(tensor.detach().cpu().numpy())
                for name, tensor in sorted(initial.items())
            }
        if auxiliary_arrays:
            pretrain_key["auxiliary_inputs"] = {
                name: array_digest(values) for name, values in sorted(auxiliary_arrays.items())
            }
        coef_key = {
            **pretrain_key,
            "finetuning": {
                "model": type(self).__name__,
                **self._training_settings(),
                "objective": objective.describe("finetune"),
            },
        }
        data = torch.from_numpy(X).to(device)
        auxiliary = {
            name: torch.from_numpy(np.ascontiguousarray(values)).to(device)
            for name, values in auxiliary_arrays.items()
        }
        run = _Training(self, model, data, objective, auxiliary, seed, pretrain_key, coef_key)
        if not self.use_cache:
            result = run.train()
            self.coef_cached_ = False
        else:
            result, self.coef_cached_ = ArtifactCache("coefficients").get_or_build(
                coef_key, run.train
            )
        self.pretrain_cached_ = True if self.coef_cached_ else run.pretrain_cached
        self.pretrain_loss_ = list(result["pretrain_loss"])
        self.finetune_loss_ = list(result["finetune_loss"])
        self.objective_ = float(result["objective"])
        self.objective_terms_ = dict(result.get("objective_terms", {}))
        self.n_iter_ = len(self.finetune_loss_)
        codes = result.get("codes")
        self.latent_codes_ = None if codes is None else codes.numpy()
        return result["coef"].numpy()


class _Training:
    """One fit's two stages: pretrain (or take the cached auto-encoder), then fine-tune."""

    def __init__(
        self,
        estimator: DeepSelfExpressiveClustering,
        model: torch.nn.Module,
        data: torch.Tensor,
        objective: Objective,
        auxiliary: dict[str, torch.Tensor],
        seed: int,
        pretrain_key: dict[str, Any],
        coef_key: dict[str, Any],
    ) -> None:
        self.estimator = estimator
        self.model = model
        self.data = data
        self.objective = objective
        self.auxiliary = auxiliary
        self.seed = seed
        self.pretrain_key = pretrain_key
        self.coef_key = coef_key
        self.pretrain_cached = False
        self._started = time.monotonic()

    def train(self) -> dict[str, Any]:
        """Pretrain and fine-tune, resuming from this configuration's checkpoint if saved."""
        est = self.estimator
        state = self._saved_state()
        if state is not None and state["stage"] == "finetune":
            pretrain_loss = list(state["pretrain_loss"])
        else:
            pretrained = self._pretrained(state)
            self.model.load_state_dict(pretrained["model"])
            pretrain_loss = list(pretrained["history"])
            state = None
        layer = SelfExpressionLayer(self.data.shape[0], est.coef_init, self.data.device)
        self._started = time.monotonic()
        history = finetune(
            self.model,
            self.data,
            layer,
            self.objective,
            est.finetune_epochs,
            est.finetune_lr,
            checkpoint=est.checkpoint,
            resume=state,
            checkpoint_extra={"key": self.coef_key, "pretrain_loss": pretrain_loss},
            auxiliary=self.auxiliary,
            progress=self._progress("fine-tuning", est.finetune_epochs),
        )
        objective, terms = final_objective(
            self.model, self.data, layer, self.objective, self.auxiliary
        )
        with torch.no_grad():
            codes = self.model.encode(self.data).cpu()
        return {
            "coef": layer.coef.cpu(),
            "codes": codes,
            "pretrain_loss": pretrain_loss,
            "finetune_loss": history,
            "objective": objective,
            "objective_terms": terms,
        }

    def _pretrained(self, state: dict[str, Any] | None) -> dict[str, Any]:
        est = self.estimator

        def build() -> dict[str, Any]:
            self._started = time.monotonic()
            history = pretrain(
                self.model,
                self.data,
                self.objective,
                est.pretrain_epochs,
                est.pretrain_lr,
                est.pretrain_batch_size,
                self.seed,
                checkpoint=est.checkpoint,
                resume=state,
                checkpoint_extra={"key": self.coef_key},
                auxiliary=self.auxiliary,
                progress=self._progress("pretraining", est.pretrain_epochs),
            )
            weights = {name: tensor.cpu() for name, tensor in self.model.state_dict().items()}
            return {"model": weights, "history": history}

        if not est.use_cache:
            return build()
        value, self.pretrain_cached = ArtifactCache("pretrained").get_or_build(
            self.pretrain_key, build
        )
        return value

    def _progress(self, stage: str, epochs: int):
        start_epoch: list[int | None] = [None]

        def report(epoch: int, objective: float, terms: dict[str, float]) -> None:
            if start_epoch[0] is None:
                start_epoch[0] = epoch - 1
            if epoch % max(1, epochs // 10) and epoch != epochs:
                return
            elapsed = time.monotonic() - self._started
            done = epoch - start_epoch[0]
            left = elapsed / done * (epochs - epoch) if done else float("nan")
            parts = ", ".join(f"{name} {value:.4g}" for name, value in terms.items())
            log.info(
                "%s epoch %d/%d: objective %.6g (%s); %.0f s elapsed, about %.0f s left",
                stage,
                epoch,
                epochs,
                objective,
                parts,
                elapsed,
                left,
            )

        return report

    def _saved_state(self) -> dict[str, Any] | None:
        """The checkpointed state of this very configuration, if any."""
        checkpoint = self.estimator.checkpoint
        if checkpoint is None:
            return None
        state = checkpoint.load()
        if state is None:
            return None
        if state.get("key") != self.coef_key:
            log.warning("ignoring checkpoint %s: saved by another configuration", checkpoint)
            return None
        log.info("resuming from %s (%s, epoch %d)", checkpoint, state["stage"], state["epoch"])
        return state
