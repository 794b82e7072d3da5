"""LRSC-L1 and LRSC-L2 (Li et al., AAAI 2021) from one definition: the estimator.

The paper's method (../shared/paper/lrsc-aaai2021.txt): DSC-Net (Eq. (1)-(2)) whose
encoder learns from external (meta) data at two levels and from a self-supervised task.

* Task level, Algorithm 1 (:mod:`benchmark.deep.meta_learning`): MAML on small
  subspace-clustering episodes drawn from the meta data, loss Eq. (6) (= Eq. (3) plus the
  η distillation term); the meta-learner θ is the target auto-encoder's start (Algorithm
  2, "Initialization").
* Model level, Eq. (4)-(5) (:mod:`benchmark.deep.distillation`): a deeper network Φ_T
  trained with cross-entropy on the meta data (:mod:`benchmark.deep.teacher`,
  cross-fitted as the "Remark" says) gives features T; W_ij = exp(−‖T_i − T_j‖²/t) and
  ½ Σ_{i≠j} W_ij ‖Z_i − Z_j‖² pulls the codes of points the teacher finds close together.
* Self-supervision, Eq. (8): InfoNCE between the L2-normalised codes Z_i and their
  self-expressions G_i = (ZC)_i, temperature σ, n-way.

Target objective, Eq. (9) (Eq. (7) plus the contrast):

    L_f = ½‖X − X̂‖² + λ1/2 ‖Z − ZC‖² + λ2 R(C) + μ/2 Σ_{i≠j} W_ij ‖Z_i − Z_j‖²
          − γ Σ_i log softmax_i(ẑ_iᵀ ĝ_j / σ),

R(C) = ‖C‖₁ (LRSC-L1) or ‖C‖²_F (LRSC-L2), trained by Algorithm 2: start from θ, pretrain
the auto-encoder on mini-batches, then fine-tune network and C full-batch; the affinity
½(|C| + |Cᵀ|) (or DSC-Net's post-processing, the ``post`` readout) goes to spectral
clustering. Everything of Eq. (1) (networks, λ1, λ2, schedules, readouts) is DSC-Net's
(:func:`benchmark.deep.dscn.dscn_settings`), so DSCN and LRSC differ only by what LRSC adds.

Table 3's switches, each zeroing exactly its terms: ``task_level=False``: no meta-learning,
DSC-Net's random initialisation; ``model_level=False``: no teacher, μ = η = 0;
``self_supervision=False``: γ = 0. All three off is DSCN (the same C as DSC-Net with the
same settings). The paper's rows: none, task, task+model, task+model+self.

Choices the paper leaves open, and ours (the values are per dataset in
:func:`benchmark.deep.lrsc_settings.lrsc_settings`, each with its source):

* Pretraining (Algorithm 2, S1-S4): "Eq. (9) with λ2 = γ = 0" on mini-batches, "without
  self-expression layer". Without the layer there is no C, so no self-expression term
  either: we read it as ½‖X − X̂‖² (X̂ = Φd(Z)) + the μ distillation term on the batch,
  with W restricted to the batch's rows and columns (S2: "select a subset T_k from T").
* Scale of the pairwise term: Eq. (4)/(7) sum over all n² pairs while every other term
  sums over n points, so a fixed μ means a different balance at every n and batch size.
  ``distillation_weight`` μ̃ weighs the term divided by the number of points it sums
  over (n while fine-tuning, the batch size while pretraining): the paper's μ = μ̃ / n.
  Likewise ``meta_eta`` η̃ gives Eq. (6)'s η = η̃ / (N × training shots), exact when both
  splits of an episode have that many points (the default m = 2 × training shots).
* t of Eq. (5) is relative: the teacher's features are divided by the square root of
  their mean squared pairwise distance (target features over the target; meta features
  per teacher half), so ``distillation_temperature`` 1 puts the average pair at W = e⁻¹.
* Eq. (8) is written for one i and added to Eq. (9) with no sum; we sum it over i
  (:func:`benchmark.deep.distillation.contrastive_loss`, ``reduction="sum"``), like the
  other terms of Eq. (9). It acts while fine-tuning only (G needs C).
* Eq. (6)'s λ3, λ4 default to the target's λ1, λ2 (Eq. (3) "the same with (1)") and η̃ to
  μ̃; C̃ of an episode starts at the target's ``coef_init``; R is the target's.
* Teacher: text, the 4-layer MLP; images, ResNet-18 (17 convolutions + 1 linear layer) of
  ``teacher_width`` (``"auto"``: the paper's 64 on CUDA,
  :data:`benchmark.deep.lrsc_settings.CPU_TEACHER_WIDTH` on the CPU; the record's
  provenance names the device); the target's features come from the teacher trained on
  M1. ``meta_points`` subsamples the meta data (seeded) for the
  teacher and the episodes.

Caches: teachers and their features (:mod:`benchmark.deep.teacher`), the meta-learner
(kind ``meta-learners``: meta data digest, Algorithm 1's settings, architecture, seed,
teacher, :data:`META_LEARNING_CODE_VERSION`), the pretrained auto-encoder and C (the
core's, whose keys hold the start weights' and the teacher features' digests), so the
readout variants and the ablation rows that share a stage compute it once. A checkpoint
covers meta-learning (stage ``"meta-learning"``) as well as the two target stages; a
teacher's training is not checkpointed (a run killed there trains it again). The meta
source is declared per method, so the engine loads the meta data for every variant, the
``ablation-none`` row included, which does not use it.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from benchmark.deep.artifact_cache import CODE_VERSIONS, ArtifactCache, array_digest
from benchmark.deep.distillation import (
    contrastive_loss,
    distillation_loss,
    mean_squared_distance,
    teacher_affinity,
)
from benchmark.deep.estimator import DeepSelfExpressiveClustering, TrainingContext, resolve_device
from benchmark.deep.lrsc_settings import CPU_TEACHER_WIDTH, contrast_bytes, distillation_bytes
from benchmark.deep.meta_learning import MetaLearningSettings, meta_learn
from benchmark.deep.objective import Batch, LossTerm, Weighted
from benchmark.deep.teacher import (
    IMAGE_SCHEDULE,
    PAPER_WIDTH,
    TEXT_SCHEDULE,
    CrossFittedTeachers,
    architecture_for,
    cross_fitted_teachers,
)

log = logging.getLogger(__name__)

TEACHER_KEY = "teacher"
"""Name of the side input holding the teacher's (scaled) features of the target."""
META_LEARNING_CODE_VERSION = CODE_VERSIONS["meta-learners"]
"""Bumped (there) whenever a change here or in :mod:`benchmark.deep.meta_learning` changes θ."""


def scaled_features(features: np.ndarray) -> np.ndarray:
    """``features`` divided by √(mean squared pairwise distance): Eq. (5)'s t becomes relative."""
    spread = mean_squared_distance(torch.from_numpy(np.asarray(features, dtype=np.float64)))
    if not spread > 0:
        raise ValueError(
            "the teacher gives every point the same features (mean squared distance 0), so "
            "Eq. (5)'s W is constant; train the teacher longer or check the meta data"
        )
    return (np.asarray(features, dtype=np.float64) / np.sqrt(spread)).astype(np.float32)


class Distillation(LossTerm):
    """Eq. (4)/(7)'s ½ Σ_{i≠j} W_ij ‖Z_i − Z_j‖² over the batch, divided by its size.

    W is Eq. (5) on the batch's rows of the side input :data:`TEACHER_KEY` (features
    already scaled, so ``temperature`` is t relative to their mean squared distance).
    While fine-tuning (the full batch) W is computed once and kept; while pretraining it
    is computed for each mini-batch.
    """

    name = "distillation"
    stages = ("pretrain", "finetune")

    def __init__(self, temperature: float) -> None:
        if not temperature > 0:
            raise ValueError(f"the temperature t of Eq. (5) must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self._full_affinity: torch.Tensor | None = None

    def _affinity(self, batch: Batch) -> torch.Tensor:
        if TEACHER_KEY not in batch.auxiliary:
            raise ValueError(f"the distillation term needs the side input {TEACHER_KEY!r}")
        features = batch.auxiliary[TEACHER_KEY]
        if batch.stage != "finetune":
            return teacher_affinity(features, self.temperature)
        if self._full_affinity is None or self._full_affinity.shape[0] != features.shape[0]:
            self._full_affinity = teacher_affinity(features, self.temperature)
        return self._full_affinity

    def value(self, batch: Batch) -> torch.Tensor:
        codes = batch.codes
        if codes.shape[0] < 2:  # a last mini-batch of one point: the sum over i ≠ j is empty
            return codes.sum() * 0.0
        return distillation_loss(codes, self._affinity(batch)) / codes.shape[0]

    def settings(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "features": "teacher, scaled to unit mean squared distance",
            "scale": "divided by the batch size (n while fine-tuning)",
        }

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        return distillation_bytes(n)


class Contrast(LossTerm):
    """Eq. (8) summed over the n points: InfoNCE between ẑ_i and ĝ_i = (ZC)_i, temperature σ."""

    name = "contrast"
    stages = ("finetune",)

    def __init__(self, temperature: float) -> None:
        if not temperature > 0:
            raise ValueError(f"the temperature σ of Eq. (8) must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def value(self, batch: Batch) -> torch.Tensor:
        if batch.expressed is None:
            raise ValueError("the contrast term needs the self-expressed codes ZC")
        return contrastive_loss(batch.codes, batch.expressed, self.temperature, reduction="sum")

    def settings(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "reduction": "sum over points"}

    def memory_bytes(self, n: int, latent_dim: int) -> int:
        return contrast_bytes(n)


def _peak_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class LRSC(DeepSelfExpressiveClustering):
    """LRSC (Li et al., AAAI 2021), Eq. (4)-(9) with Algorithms 1-2; see the module docstring.

    Own parameters (the rest are DSC-Net's, passed on with ``**base``):

    * switches of Table 3: ``task_level``, ``model_level``, ``self_supervision``;
    * Eq. (7)/(9): ``distillation_weight`` μ̃ (paper's μ = μ̃/n), ``distillation_temperature``
      t (relative), ``contrast_weight`` γ, ``contrast_temperature`` σ;
    * Algorithm 1 / Eq. (6): ``meta_lambda3`` λ3 and ``meta_lambda4`` λ4 (``None``: λ1, λ2),
      ``meta_eta`` η̃ (``None``: μ̃), episodes ``meta_ways`` N × ``meta_shots`` m of which
      ``meta_train_shots`` per class in M_tr, ``meta_tasks_per_step``, ``meta_outer_steps``,
      ``meta_outer_lr``, ``meta_inner_steps``, ``meta_inner_lr``, ``meta_first_order``,
      ``meta_coef_steps``, ``meta_coef_lr`` (see :class:`MetaLearningSettings`);
    * teacher: ``teacher_width`` (images; ``"auto"``), ``teacher_epochs`` (``None``: the
      schedule's), ``meta_points`` (subsample of the meta data; ``None``: all of it);
    * ``meta_data``: ``(X, y)`` of the meta data, samples shaped like the target's (the
      engine passes it from the method's meta source); needed unless both
      ``task_level`` and ``model_level`` are off.

    Learned attributes besides DSC-Net's: ``stage_seconds_`` and ``stage_peak_mb_`` (teacher,
    meta-learning, target training; peak resident memory of the process at the end of
    each), ``teacher_width_``, ``teacher_cached_``, ``meta_learner_cached_``, ``meta_loss_``.
    """

    def __init__(
        self,
        task_level: bool = True,
        model_level: bool = True,
        self_supervision: bool = True,
        distillation_weight: float = 1.0,
        distillation_temperature: float = 1.0,
        contrast_weight: float = 0.1,
        contrast_temperature: float = 0.07,
        meta_lambda3: float | None = None,
        meta_lambda4: float | None = None,
        meta_eta: float | None = None,
        meta_ways: int = 5,
        meta_shots: int = 10,
        meta_train_shots: int = 5,
        meta_tasks_per_step: int = 4,
        meta_outer_steps: int = 100,
        meta_outer_lr: float = 1e-3,
        meta_inner_steps: int = 1,
        meta_inner_lr: float = 1e-5,
        meta_first_order: bool = False,
        meta_coef_steps: int = 50,
        meta_coef_lr: float = 1e-2,
        meta_points: int | None = None,
        teacher_width: int | str = "auto",
        teacher_epochs: int | None = None,
        meta_data: tuple[np.ndarray, np.ndarray] | None = None,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.task_level = task_level
        self.model_level = model_level
        self.self_supervision = self_supervision
        self.distillation_weight = distillation_weight
        self.distillation_temperature = distillation_temperature
        self.contrast_weight = contrast_weight
        self.contrast_temperature = contrast_temperature
        self.meta_lambda3 = meta_lambda3
        self.meta_lambda4 = meta_lambda4
        self.meta_eta = meta_eta
        self.meta_ways = meta_ways
        self.meta_shots = meta_shots
        self.meta_train_shots = meta_train_shots
        self.meta_tasks_per_step = meta_tasks_per_step
        self.meta_outer_steps = meta_outer_steps
        self.meta_outer_lr = meta_outer_lr
        self.meta_inner_steps = meta_inner_steps
        self.meta_inner_lr = meta_inner_lr
        self.meta_first_order = meta_first_order
        self.meta_coef_steps = meta_coef_steps
        self.meta_coef_lr = meta_coef_lr
        self.meta_points = meta_points
        self.teacher_width = teacher_width
        self.teacher_epochs = teacher_epochs
        self.meta_data = meta_data

    # -- effective weights (the switches) -------------------------------------------

    def effective_weights(self) -> dict[str, float]:
        """μ̃, η̃ and γ after the switches: each switch zeroes exactly its own weights."""
        for name in ("distillation_weight", "contrast_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"lrsc: {name} must be >= 0, got {getattr(self, name)}")
        mu = float(self.distillation_weight) if self.model_level else 0.0
        eta = self.distillation_weight if self.meta_eta is None else self.meta_eta
        eta = float(eta) if self.model_level and self.task_level else 0.0
        gamma = float(self.contrast_weight) if self.self_supervision else 0.0
        return {"mu": mu, "eta": eta, "gamma": gamma}

    def meta_learning_settings(self) -> MetaLearningSettings:
        """Algorithm 1's settings, Eq. (6)'s η per point of the training split (see module)."""
        weights = self.effective_weights()
        train_points = int(self.meta_ways) * int(self.meta_train_shots)
        lambda3 = self.lambda1 if self.meta_lambda3 is None else self.meta_lambda3
        lambda4 = self.lambda2 if self.meta_lambda4 is None else self.meta_lambda4
        settings = MetaLearningSettings(
            n_classes=int(self.meta_ways),
            samples_per_class=int(self.meta_shots),
            train_per_class=int(self.meta_train_shots),
            tasks_per_step=int(self.meta_tasks_per_step),
            outer_steps=int(self.meta_outer_steps),
            outer_lr=float(self.meta_outer_lr),
            inner_steps=int(self.meta_inner_steps),
            inner_lr=float(self.meta_inner_lr),
            first_order=bool(self.meta_first_order),
            lambda3=float(lambda3),
            lambda4=float(lambda4),
            regularizer=self.regularizer,
            eta=weights["eta"] / max(train_points, 1),
            temperature=float(self.distillation_temperature),
            coef_steps=int(self.meta_coef_steps),
            coef_lr=float(self.meta_coef_lr),
            coef_init=float(self.coef_init),
        )
        settings.check()
        return settings

    def resolved_teacher_width(self) -> int:
        """``teacher_width``, with ``"auto"`` = the paper's 64 on CUDA, 16 on the CPU."""
        if self.teacher_width == "auto":
            on_cuda = resolve_device(self.device).type == "cuda"
            return PAPER_WIDTH if on_cuda else CPU_TEACHER_WIDTH
        if isinstance(self.teacher_width, str) or int(self.teacher_width) < 1:
            raise ValueError(
                f"lrsc: teacher_width must be 'auto' or a positive integer, got "
                f"{self.teacher_width!r}"
            )
        return int(self.teacher_width)

    # -- the core's hooks ---------------------------------------------------------

    def _extra_objective(self, context: TrainingContext):
        weights = self.effective_weights()
        terms: list[Weighted] = []
        if weights["mu"] > 0:
            terms.append(Weighted(Distillation(self.distillation_temperature), weights["mu"]))
        if weights["gamma"] > 0:
            terms.append(Weighted(Contrast(self.contrast_temperature), weights["gamma"]))
        return terms, ()

    def _auxiliary_inputs(self, X: np.ndarray) -> dict[str, np.ndarray]:
        if not self.effective_weights()["mu"] > 0:
            return {}
        teachers = self._teachers(X)
        started = time.perf_counter()
        features = teachers.target_features(X, self.device, self.use_cache)
        self._add_stage_time("teacher", time.perf_counter() - started)
        return {TEACHER_KEY: scaled_features(features)}

    def _initial_weights(
        self, model: torch.nn.Module, X: np.ndarray, seed: int
    ) -> Mapping[str, torch.Tensor] | None:
        if not self.task_level:
            return None
        settings = self.meta_learning_settings()
        meta_X, meta_y = self._meta_sample(seed)
        features = groups = None
        teacher_key = None
        if settings.eta > 0:
            teachers = self._teachers(X)
            features, groups = _per_group_scaled(teachers), teachers.meta_group
            teacher_key = teachers.key
        key = {
            "meta_data": {"X": array_digest(meta_X), "y": array_digest(meta_y)},
            "settings": asdict(settings),
            "architecture": self._architecture(tuple(int(s) for s in X.shape[1:])),
            "seed": int(seed),
            "teachers": teacher_key,
            "teacher_features": "scaled to unit mean squared distance per teacher half",
            "code_version": META_LEARNING_CODE_VERSION,
        }
        started = time.perf_counter()

        def build() -> dict[str, Any]:
            saved = self.checkpoint.load() if self.checkpoint is not None else None
            resume = None
            if saved is not None and saved.get("stage") == "meta-learning":
                resume = saved if saved.get("key") == _plain(key) else None
            result = meta_learn(
                meta_X,
                meta_y,
                settings,
                conv_channels=self.conv_channels,
                kernel_size=self.kernel_size,
                dense_hidden=self.dense_hidden,
                output_activation=self.output_activation,
                seed=seed,
                teacher_features=features,
                groups=groups,
                device=self.device,
                checkpoint=self.checkpoint,
                checkpoint_extra={"key": _plain(key)},
                resume=resume,
            )
            if self.checkpoint is not None:
                saved = self.checkpoint.load()
                if saved is not None and saved.get("stage") == "meta-learning":
                    self.checkpoint.clear()  # the target stages start afresh
            return {"state": result.state_dict, "history": result.history}

        if self.use_cache:
            value, self.meta_learner_cached_ = ArtifactCache("meta-learners").get_or_build(
                key, build
            )
        else:
            value, self.meta_learner_cached_ = build(), False
        self.meta_loss_ = list(value["history"])
        self._add_stage_time("meta_learning", time.perf_counter() - started)
        return value["state"]

    def _training_settings(self) -> dict[str, Any]:
        settings = super()._training_settings()
        if self.meta_data is not None:
            meta_X, meta_y = self.meta_data
            settings["meta_data"] = {
                "X": array_digest(np.asarray(meta_X)),
                "y": array_digest(np.asarray(meta_y)),
            }
        return settings

    def _self_expression(self, X: np.ndarray) -> np.ndarray:
        if self.input_scale != "as-given":
            raise ValueError(
                "LRSC takes its target and meta data as the datasets give them; "
                f"input_scale={self.input_scale!r} would scale the target alone. Use "
                "input_scale='as-given' (DSCN, DPSC and DASC accept 'unit-rms')."
            )
        self._check_meta_data(X)
        self.stage_seconds_: dict[str, float] = {}
        self.stage_peak_mb_: dict[str, float] = {}
        self.teacher_width_ = self.resolved_teacher_width() if X.ndim == 4 else None
        self.teacher_cached_ = None
        self.meta_learner_cached_ = None
        self.meta_loss_: list[float] = []
        self._fit_teachers: CrossFittedTeachers | None = None
        started = time.perf_counter()
        try:
            coef = super()._self_expression(X)
        finally:
            self._fit_teachers = None
        before = sum(self.stage_seconds_.values())
        self.stage_seconds_["target_training"] = time.perf_counter() - started - before
        self.stage_peak_mb_["target_training"] = _peak_mb()
        log.info(
            "lrsc stages: %s",
            ", ".join(
                f"{stage} {seconds:.1f} s (peak {self.stage_peak_mb_[stage]:.0f} MiB)"
                for stage, seconds in self.stage_seconds_.items()
            ),
        )
        return coef

    def _fit_info(self) -> dict[str, Any]:
        return {
            **super()._fit_info(),
            "stage_seconds": self.stage_seconds_,
            "stage_peak_mb": self.stage_peak_mb_,
            "teacher_width": self.teacher_width_,
            "teacher_cached": self.teacher_cached_,
            "meta_learner_cached": self.meta_learner_cached_,
            "meta_loss_first_last": self.meta_loss_[:1] + self.meta_loss_[-1:],
        }

    # -- meta data, teachers --------------------------------------------------------

    def _check_meta_data(self, X: np.ndarray) -> None:
        needs = [name for name in ("task_level", "model_level") if getattr(self, name)]
        if self.meta_data is None:
            if needs:
                raise ValueError(
                    f"lrsc: {' and '.join(needs)} need meta data, but meta_data is None. Run "
                    f"the method through the benchmark (it passes the meta source the method "
                    f"declares for the dataset), pass meta_data=(X_meta, y_meta), or switch "
                    f"{' and '.join(needs)} off (all switches off is DSCN)"
                )
            return
        meta_X, meta_y = self.meta_data
        meta_X = np.asarray(meta_X)
        if tuple(meta_X.shape[1:]) != tuple(X.shape[1:]) or len(meta_X) != len(meta_y):
            raise ValueError(
                f"lrsc: meta data must be samples shaped like the target's {tuple(X.shape[1:])} "
                f"with one label each; got X of shape {meta_X.shape} and {len(meta_y)} labels "
                f"(give the meta source the target's feature space or image size)"
            )

    def _meta_sample(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The meta data, or ``meta_points`` of it drawn by ``seed`` (sorted indices)."""
        assert self.meta_data is not None  # checked at the start of the fit
        meta_X = np.ascontiguousarray(self.meta_data[0], dtype=np.float32)
        meta_y = np.asarray(self.meta_data[1])
        if self.meta_points is None or int(self.meta_points) >= len(meta_y):
            return meta_X, meta_y
        if int(self.meta_points) < 2:
            raise ValueError(f"lrsc: meta_points must be >= 2 or None, got {self.meta_points}")
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(meta_y), size=int(self.meta_points), replace=False))
        return meta_X[chosen], meta_y[chosen]

    def _teachers(self, X: np.ndarray) -> CrossFittedTeachers:
        """The cross-fitted teachers of this fit (trained or loaded once per fit)."""
        if self._fit_teachers is not None:
            return self._fit_teachers
        seed = self._seed()
        meta_X, meta_y = self._meta_sample(seed)
        architecture = architecture_for(X.shape[1:], self.resolved_teacher_width())
        schedule = IMAGE_SCHEDULE if X.ndim == 4 else TEXT_SCHEDULE
        if self.teacher_epochs is not None:
            schedule = replace(schedule, epochs=int(self.teacher_epochs))
        started = time.perf_counter()
        self._fit_teachers = cross_fitted_teachers(
            meta_X, meta_y, architecture, schedule, seed, self.device, self.use_cache
        )
        self.teacher_cached_ = self._fit_teachers.cached
        self._add_stage_time("teacher", time.perf_counter() - started)
        return self._fit_teachers

    def _add_stage_time(self, stage: str, seconds: float) -> None:
        self.stage_seconds_[stage] = self.stage_seconds_.get(stage, 0.0) + seconds
        self.stage_peak_mb_[stage] = _peak_mb()


def _per_group_scaled(teachers: CrossFittedTeachers) -> np.ndarray:
    """The meta features, each teacher half's scaled by its own mean squared distance."""
    scaled = np.empty_like(teachers.meta_features, dtype=np.float32)
    for group in np.unique(teachers.meta_group):
        rows = teachers.meta_group == group
        scaled[rows] = scaled_features(teachers.meta_features[rows])
    return scaled


def _plain(key: Mapping[str, Any]) -> Any:
    """``key`` as plain JSON data (tuples become lists), as the checkpoint compares it."""
    return json.loads(json.dumps(key, default=str))
