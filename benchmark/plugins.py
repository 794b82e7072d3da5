"""The plugin contract: what a method file or a dataset file declares.

A method plugin (``methods/<id>.py``) defines one module-level :class:`MethodInfo`;
a dataset plugin (``datasets/<id>.py``) defines one :class:`DatasetInfo`.
Plugins import only public names of the engine (this module, ``benchmark.spectral``,
``benchmark.selfexpressive``, ``benchmark.metrics``, ``benchmark.data``, ...).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from benchmark.meta import MetaSource

PROCESS_BASELINE_MB = 170
"""Memory of a task process before the method allocates anything (interpreter, numpy,
scipy, scikit-learn and the loaded plugins; ``python -m benchmark.perf`` measured 157 MiB
for the classical methods, whose tasks import no torch). Memory estimates add it to what
the method itself needs."""
TORCH_PROCESS_BASELINE_MB = 450
"""The same for a task that imports PyTorch (measured about 420 MiB)."""

ALL_DATASETS = "*"
"""Key of :attr:`MethodInfo.defaults` whose entries apply to every dataset."""

FEATURE_KINDS = ("images", "text", "vectors")
"""What a dataset's features are (:attr:`DatasetInfo.features`): ``images``, pixel
intensities in [0, 1] with an image view; ``text``, signed document vectors (TF-IDF, then
truncated SVD); ``vectors``, anything else. Methods key settings that depend on the kind
of features, not on a dataset's id, by :func:`features_key` (``"features:text"``), so a
user's own dataset of that kind gets them too."""


def features_key(kind: str) -> str:
    """The key of :attr:`MethodInfo.defaults` for datasets whose features are ``kind``."""
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown kind of features {kind!r}; choose one of {FEATURE_KINDS}")
    return f"features:{kind}"


NOT_ADDED_LATER = object()
"""Marks a :class:`Param` that existed when the first results were recorded."""


@dataclass(frozen=True)
class Param:
    """A hyper-parameter value together with where it comes from.

    ``source`` starts with the kind of source (PROTOCOL.md, "where a value may come
    from"), then a colon and the details; :func:`source_kind` reads it:

    * ``paper: ...`` / ``reference code: ...``: the authors' published value;
    * ``transfer:<where>: ...``: chosen with labels on other data, named by ``<where>``
      (e.g. ``transfer:20newsgroups-meta: ...``);
    * ``label-free:<criterion>: ...``: chosen on the evaluated data without labels;
    * ``oracle: ...``: chosen with the evaluated data's own labels (marked variants only);
    * ``choice: ...``: a fixed choice that looked at no data's labels or results
      (a batch size, an iteration cap, a preprocessing convention).

    ``added_at``: for a parameter added after results existed, the value that does what
    the code did before it existed. A task whose value equals it keeps the id it had
    without the parameter (see :meth:`benchmark.tasks.Task.identity`), so adding a switch
    does not orphan finished records; its record states the value under
    ``implicit_params`` (tables group such a task with the earlier ones).
    """

    value: Any
    source: str
    added_at: Any = field(default=NOT_ADDED_LATER, compare=False)


SOURCE_KINDS = ("paper", "reference", "transfer", "label-free", "oracle", "choice", "command-line")
"""What :func:`source_kind` returns (``reference`` for ``reference code:``)."""

TUNING_ORDER = ("oracle", "unknown", "command-line", "label-free", "transfer", "reference", "paper")
"""Tunings from worst to best; a task's tuning is its worst parameter's (``choice`` is neutral)."""

COMMAND_LINE_SOURCE = "command line (--set)"
"""The source the task grid gives a value set with ``--set``."""

_PLAIN_SOURCE = re.compile(r"(paper|reference code|oracle|choice): \S")
_NAMED_SOURCE = re.compile(r"(transfer|label-free):([A-Za-z0-9_.+-]+): \S")


class SourceError(ValueError):
    """A parameter source that does not start with one of the known kinds."""


def source_kind(source: str) -> tuple[str, str | None]:
    """The kind of a :class:`Param` source and, for ``transfer``/``label-free``, its name.

    >>> source_kind("transfer:20newsgroups-meta: λ searched on the 10 other groups")
    ('transfer', '20newsgroups-meta')
    """
    if source == COMMAND_LINE_SOURCE:
        return "command-line", None
    plain = _PLAIN_SOURCE.match(source)
    if plain:
        kind = plain.group(1)
        return ("reference" if kind == "reference code" else kind), None
    named = _NAMED_SOURCE.match(source)
    if named:
        return named.group(1), named.group(2)
    raise SourceError(
        f"parameter source {source!r} does not start with a known kind; start it with one of "
        "'paper: ', 'reference code: ', 'transfer:<where>: ', 'label-free:<criterion>: ', "
        "'oracle: ' or 'choice: ' (see benchmark.plugins.Param and PROTOCOL.md)"
    )


def tuning_of(sources: Mapping[str, str]) -> str:
    """A task's ``tuning`` from its parameters' sources: the worst kind wins.

    ``paper``, ``reference``, ``oracle`` and ``command-line`` are returned as they are;
    ``transfer`` and ``label-free`` list every named source of those two kinds, worst
    first, e.g. ``"label-free:sparsity; transfer:20newsgroups-meta"``. Only ``choice``
    sources (or none): ``"choice"``. Raises :class:`SourceError` for an unknown source.
    """
    kinds = {name: source_kind(source) for name, source in sources.items()}
    ranked = [kind for kind, _ in kinds.values() if kind != "choice"]
    if not ranked:
        return "choice"
    worst = min(ranked, key=TUNING_ORDER.index)
    if worst not in ("transfer", "label-free"):
        return worst
    named = sorted(
        {(kind, where) for kind, where in kinds.values() if kind in ("transfer", "label-free")},
        key=lambda pair: (TUNING_ORDER.index(pair[0]), pair[1]),
    )
    return "; ".join(f"{kind}:{where}" for kind, where in named)


def tuning_level(tuning: str | None) -> str:
    """The kind of a record's ``tuning`` (``"unknown"`` for a record without one)."""
    if not tuning:
        return "unknown"
    return tuning.split(":", 1)[0]


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


class EstimatorImportError(ImportError):
    """A method's ``"module:Class"`` or ``"file.py:Class"`` estimator that cannot be imported."""


def resolve_estimator(reference: type | str, plugin_file: str | None = None) -> type:
    """The class a :attr:`MethodInfo.estimator` names: the class itself, or
    ``"package.module:Class"`` imported, or ``"file.py:Class"`` loaded from that file
    (relative paths: from the folder of ``plugin_file``)."""
    if isinstance(reference, type):
        return reference
    where, _, class_name = str(reference).rpartition(":")
    if not where or not class_name:
        raise EstimatorImportError(
            f"estimator {reference!r} is neither a class nor 'package.module:Class' nor "
            "'file.py:Class'; name the class after a colon"
        )
    if where.endswith(".py"):
        from benchmark.registry import load_module  # the registry imports this module

        path = Path(where)
        if not path.is_absolute():
            if plugin_file is None:
                raise EstimatorImportError(
                    f"estimator {reference!r} is relative to its plugin file, which is unknown "
                    "here; load the plugin through benchmark.registry (Registry or load_plugin)"
                )
            path = Path(plugin_file).parent / path
        module = load_module(path)
    else:
        module = importlib.import_module(where)
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        raise EstimatorImportError(
            f"estimator {reference!r}: {where} defines no class {class_name!r}"
        )
    return found


@dataclass(frozen=True)
class MethodInfo:
    """Declaration of a clustering method plugin.

    ``estimator`` is a scikit-learn style class: ``__init__`` stores parameters
    (it must accept ``n_clusters`` and ``random_state``), ``fit`` returns self and sets
    ``labels_``. It may set ``n_iter_``, ``converged_`` and ``objective_``, which are
    recorded. If its ``__init__`` accepts ``checkpoint``, the runner passes a
    :class:`benchmark.checkpoint.Checkpoint` (not part of the task's identity).
    Instead of the class, ``estimator`` may say where it is, ``"package.module:Class"``
    or ``"file.py:Class"`` (a path relative to the plugin file's folder): it is then
    imported only when a task runs (:attr:`estimator_class`), so that listing and
    planning never import what the class needs (PyTorch and scikit-learn take seconds).

    ``defaults`` maps ``"*"`` (every dataset) and dataset ids to parameter
    settings; dataset entries override ``"*"``. ``variants`` maps a variant name to
    parameter overrides; every variant is its own task (``""`` = the plain method).
    ``memory_mb(n, d)`` estimates the task's peak memory in MiB.

    ``meta(dataset_id, dataset_params)``, for methods that learn from external data,
    returns the :class:`benchmark.meta.MetaSource` candidates for that target, most
    preferred first (empty: none). The engine resolves them (:mod:`benchmark.meta`;
    part of the task's identity, recorded as ``meta_source``) and passes the arrays as
    ``meta_data=(X, y)`` to an ``__init__`` that accepts ``meta_data``.
    """

    id: str
    name: str
    estimator: type | str
    defaults: Mapping[str, Mapping[str, Param]]
    memory_mb: Callable[[int, int], float]
    kind: Literal["paper", "reference"] = "paper"
    view: Literal["vectors", "images", "auto"] = "vectors"
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"": {}})
    description: str = ""
    meta: Callable[[str, Mapping[str, Any]], Sequence[MetaSource]] | None = None
    plugin_file: str | None = field(default=None, compare=False, repr=False)
    """The file that declared the method (the registry sets it): ``"file.py:Class"``
    estimators are found from its folder."""

    @property
    def estimator_class(self) -> type:
        """The estimator class, imported now if :attr:`estimator` names where it is."""
        return resolve_estimator(self.estimator, self.plugin_file)

    def params_for(self, dataset_id: str, features: str | None = None) -> dict[str, Param]:
        """Default parameters for ``dataset_id``: the ``"*"`` entries, then those of the
        dataset's kind of features (``"features:text"``, see :data:`FEATURE_KINDS`), then
        the dataset's own."""
        merged = dict(self.defaults.get(ALL_DATASETS, {}))
        if features is not None:
            merged.update(self.defaults.get(features_key(features), {}))
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
    (for memory estimates in ``--dry-run``). ``features`` says what the features are
    (:data:`FEATURE_KINDS`); methods pick settings by it (:meth:`MethodInfo.params_for`).
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
    features: str = "vectors"

    def __post_init__(self) -> None:
        features_key(self.features)  # raises for an unknown kind of features

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
