"""The plugin contract: what a method file or a dataset file declares.

A method plugin (``methods/<id>.py``) defines one module-level :class:`MethodInfo`;
a dataset plugin (``datasets/<id>.py``) defines one :class:`DatasetInfo`.
Plugins import only public names of the engine (this module, ``benchmark.spectral``,
``benchmark.selfexpressive``, ``benchmark.metrics``, ``benchmark.data``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

PROCESS_BASELINE_MB = 450
"""Memory of a task process before the method allocates anything (interpreter, numpy,
scipy, scikit-learn, torch and the loaded plugins; measured about 420 MiB). Memory
estimates add it to what the method itself needs."""

ALL_DATASETS = "*"
"""Key of :attr:`MethodInfo.defaults` whose entries apply to every dataset."""


@dataclass(frozen=True)
class Param:
    """A hyper-parameter value together with where it comes from.

    ``source`` says one of: ``paper: ...``, ``reference code: ...``, ``our choice: ...``
    or ``our search: ...`` (and then whether labels were used to pick the value).
    """

    value: Any
    source: str


@dataclass
class DataBundle:
    """What a dataset plugin's ``load`` returns: plain arrays, samples in rows.

    ``X`` is n×D float32 (the paper writes D×n), ``y`` integer labels in
    ``0..n_clusters-1``; image datasets also give ``images`` as (n, 1, H, W) float32.
    ``info`` holds provenance worth recording (source files, pool, preprocessing).
    """

    X: np.ndarray
    y: np.ndarray
    n_clusters: int
    images: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def view(self, name: str) -> np.ndarray:
        """Return the ``vectors`` (n×D) or ``images`` (n×1×H×W) view of the data.

        ``auto`` is the images when the dataset has them, else the vectors (methods with a
        convolutional network for images and a dense one for text).
        """
        if name == "auto":
            name = "vectors" if self.images is None else "images"
        if name == "vectors":
            return self.X
        if name == "images":
            if self.images is None:
                raise ValueError(
                    "this dataset has no image view; choose a method that takes vectors"
                )
            return self.images
        raise ValueError(f"unknown view {name!r}; known views: 'vectors', 'images', 'auto'")


class DivergenceError(ArithmeticError):
    """Raised by a method whose optimisation diverged; the task is recorded ``diverged``."""


@dataclass(frozen=True)
class MethodInfo:
    """Declaration of a clustering method plugin.

    ``estimator`` is a scikit-learn style class: ``__init__`` stores parameters
    (it must accept ``n_clusters`` and ``random_state``), ``fit`` returns self and sets
    ``labels_``. It may set ``n_iter_``, ``converged_`` and ``objective_``, which are
    recorded. If its ``__init__`` accepts ``checkpoint``, the runner passes a
    :class:`benchmark.checkpoint.Checkpoint` (not part of the task's identity).

    ``defaults`` maps ``"*"`` (every dataset) and dataset ids to parameter
    settings; dataset entries override ``"*"``. ``variants`` maps a variant name to
    parameter overrides; every variant is its own task (``""`` = the plain method).
    ``memory_mb(n, d)`` estimates the task's peak memory in MiB.
    """

    id: str
    name: str
    estimator: type
    defaults: Mapping[str, Mapping[str, Param]]
    memory_mb: Callable[[int, int], float]
    kind: Literal["paper", "reference"] = "paper"
    view: Literal["vectors", "images", "auto"] = "vectors"
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"": {}})
    description: str = ""

    def params_for(self, dataset_id: str) -> dict[str, Param]:
        """Default parameters for ``dataset_id`` (``"*"`` entries, then the dataset's)."""
        merged = dict(self.defaults.get(ALL_DATASETS, {}))
        merged.update(self.defaults.get(dataset_id, {}))
        return merged


@dataclass(frozen=True)
class DatasetInfo:
    """Declaration of a dataset plugin.

    ``load(n_points, seed, **params)`` returns a :class:`DataBundle`; ``seed`` is the
    run seed (it picks the subsample), ``params`` the preprocessing parameters.
    ``sizes`` lists the supported ``n_points`` (``None``: any positive size);
    ``default_sizes`` are used when the user gives no ``--sizes``.
    ``fetch()``, when given, downloads or copies the raw files into the data home.
    ``kind``: ``target`` (clustered in the paper's tables; ``--datasets all``), ``meta``
    (external data for LRSC) or ``synthetic``.
    ``dim(**params)``, when given, is the feature dimension D without loading the data
    (for memory estimates in ``--dry-run``).
    """

    id: str
    name: str
    load: Callable[..., DataBundle]
    default_sizes: tuple[int, ...]
    params: Mapping[str, Param] = field(default_factory=dict)
    kind: Literal["target", "meta", "synthetic"] = "target"
    sizes: tuple[int, ...] | None = None
    fetch: Callable[[], None] | None = None
    dim: Callable[..., int] | None = None
    description: str = ""

    def check_size(self, n_points: int) -> None:
        """Raise ``ValueError`` with the supported sizes if ``n_points`` is not one."""
        if self.sizes is None:
            if n_points < 1:
                raise ValueError(f"dataset {self.id!r}: size must be positive, got {n_points}")
            return
        if n_points not in self.sizes:
            sizes = ", ".join(str(s) for s in self.sizes)
            raise ValueError(
                f"dataset {self.id!r} supports sizes {sizes}; got {n_points}. "
                f"Pass --sizes with one of these (or leave --sizes out)."
            )
