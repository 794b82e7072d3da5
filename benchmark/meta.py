"""Meta (external) data for the methods that learn from it (LRSC), resolved by the engine.

A method never imports a dataset. It declares, per target dataset, which meta sources
it can use (:attr:`benchmark.plugins.MethodInfo.meta`: a function of the target's id
and parameters returning :class:`MetaSource` candidates in order of preference); the
engine resolves them to a dataset plugin when it builds the grid, loads that plugin in
the worker and hands the estimator plain arrays (``meta_data=(X, y)``), the way it
hands a checkpoint.

Resolution (:func:`resolve_meta_source`, at grid expansion): a single candidate is
used as it is; among several, the first whose files are present (its ``load`` does not
raise :class:`benchmark.data.MissingDataError`) is used, and when none is, the first,
whose load then fails in the worker with the dataset's own message on how to get it.
The resolved source (dataset id, its full parameters, size) is part of the task's
identity, so a different meta source is a different task, and it is written into the
record as ``meta_source``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.data import MissingDataError
from benchmark.plugins import DatasetInfo, MethodInfo
from benchmark.registry import PluginRef, Registry, load_plugin


@dataclass(frozen=True)
class MetaSource:
    """A meta dataset a method asks for: its plugin id, parameter overrides and size.

    ``params`` override the meta dataset's declared defaults (e.g. the target's feature
    space); ``n_points`` ``None`` is the dataset's first default size (all of it).
    """

    dataset: str
    params: Mapping[str, Any] = field(default_factory=dict)
    n_points: int | None = None


class MetaSourceError(ValueError):
    """A method's meta source that names an unknown dataset, parameter or size."""


def _resolved(registry: Registry, candidate: MetaSource) -> dict[str, Any]:
    """The candidate with the meta dataset's defaults filled in, as plain data."""
    if candidate.dataset not in registry.datasets:
        raise MetaSourceError(
            f"meta source {candidate.dataset!r} is not a known dataset; known: "
            f"{', '.join(sorted(registry.datasets))}"
        )
    info = registry.dataset(candidate.dataset)
    unknown = sorted(set(candidate.params) - set(info.params))
    if unknown:
        raise MetaSourceError(
            f"meta source {info.id!r} has no parameter {', '.join(map(repr, unknown))}; its "
            f"parameters are: {', '.join(sorted(info.params)) or '(none)'}"
        )
    n_points = info.default_sizes[0] if candidate.n_points is None else int(candidate.n_points)
    try:
        info.check_size(n_points)
    except ValueError as exc:
        raise MetaSourceError(f"meta source: {exc}") from exc
    params = {name: param.value for name, param in info.params.items()}
    params.update(candidate.params)
    return {"dataset": info.id, "params": params, "n_points": n_points}


def _available(info: DatasetInfo, source: dict[str, Any]) -> bool:
    try:
        info.load(source["n_points"], 0, **source["params"])
    except MissingDataError:
        return False
    return True


def resolve_meta_source(
    registry: Registry,
    method: MethodInfo,
    dataset_id: str,
    dataset_params: Mapping[str, Any],
    probed: dict[str, bool] | None = None,
) -> dict[str, Any] | None:
    """``{"dataset", "params", "n_points"}`` of the meta source a task uses, or ``None``.

    ``None`` when the method declares no meta data for ``dataset_id``. ``probed``
    memoises availability checks across the tasks of one grid.
    """
    if method.meta is None:
        return None
    candidates = [_resolved(registry, c) for c in method.meta(dataset_id, dict(dataset_params))]
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    probed = {} if probed is None else probed
    for candidate in candidates:
        key = json.dumps(candidate, sort_keys=True, default=repr)
        if key not in probed:
            probed[key] = _available(registry.dataset(candidate["dataset"]), candidate)
        if probed[key]:
            return candidate
    return candidates[0]


def load_meta_data(
    meta_source: Mapping[str, Any], dataset_path: str, view: str, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, Any]]:
    """``((X, y), info)`` of a resolved meta source, loaded from its plugin file.

    ``X`` is the ``view`` the method takes (``vectors``, ``images`` or ``auto``), ``y``
    the meta data's class labels and ``info`` what the dataset reports about its load.
    ``seed`` (the run seed) draws the subsample when the size is not the whole dataset.
    """
    info = load_plugin(PluginRef(dataset_path, meta_source["dataset"]), "dataset")
    try:
        bundle = info.load(int(meta_source["n_points"]), seed, **meta_source["params"])
    except MissingDataError as exc:
        raise MissingDataError(
            f"the meta data of this task, {meta_source['dataset']!r}, is missing: {exc}"
        ) from exc
    return (bundle.view(view), bundle.y), dict(bundle.info)
