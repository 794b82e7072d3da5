"""Tasks: one (method, dataset, size, seed, variant, parameters) to run, and the grid of them.

A task's id is a hash of its fully resolved configuration, so a changed parameter is a
new task and never reuses or overwrites an old record.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmark.meta import MetaSourceError, resolve_meta_source
from benchmark.plugins import NOT_ADDED_LATER
from benchmark.registry import Registry, did_you_mean


@dataclass(frozen=True)
class Task:
    """A fully resolved unit of work; plain data, so it crosses process boundaries."""

    method: str
    dataset: str
    n_points: int
    seed: int
    variant: str
    params: dict[str, Any]
    dataset_params: dict[str, Any]
    method_path: str
    dataset_path: str
    param_sources: dict[str, str] = field(default_factory=dict)
    memory_estimate_mb: float | None = None
    meta_source: dict[str, Any] | None = None
    meta_path: str | None = None
    identity_omits: tuple[str, ...] = ()

    def identity(self) -> dict[str, Any]:
        """The configuration that defines the task (what its id hashes).

        A resolved meta source (:mod:`benchmark.meta`) is part of it; tasks without one
        keep the ids they had before meta sources existed. Likewise ``identity_omits``
        names parameters added later that hold the value reproducing the code before them
        (``Param.added_at``): left out here, so those tasks keep their earlier ids.
        """
        identity = {
            "method": self.method,
            "dataset": self.dataset,
            "n_points": self.n_points,
            "seed": self.seed,
            "variant": self.variant,
            "params": {k: v for k, v in self.params.items() if k not in self.identity_omits},
            "dataset_params": self.dataset_params,
        }
        if self.meta_source is not None:
            identity["meta_source"] = self.meta_source
        return identity

    @property
    def task_id(self) -> str:
        """16 hex digits of the SHA-256 of the canonical JSON of :meth:`identity`."""
        canonical = json.dumps(self.identity(), sort_keys=True, default=repr)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        """Short human-readable name, e.g. ``ssc/bbc/n=2225/seed=0``."""
        variant = f"[{self.variant}]" if self.variant else ""
        return f"{self.method}{variant}/{self.dataset}/n={self.n_points}/seed={self.seed}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "identity_omits": tuple(data.get("identity_omits", ()))})


class GridError(ValueError):
    """A grid that cannot be built: bad ``--set``, unknown parameter, unsupported size."""


def parse_value(text: str) -> Any:
    """A command-line value: a Python literal (``0.1``, ``True``, ``None``) or a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(items: Sequence[str]) -> dict[str, dict[str, list[Any]]]:
    """``["ssc.alpha=20,50", "bbc.n_components=128"]`` → ``{"ssc": {"alpha": [20, 50]}, ...}``."""
    overrides: dict[str, dict[str, list[Any]]] = {}
    for item in items:
        target, sep, values = item.partition("=")
        plugin_id, dot, param = target.strip().partition(".")
        texts = [v.strip() for v in values.split(",")]
        problem = (
            "no '='" if not sep
            else "no '.' between the plugin id and the parameter" if not dot
            else "no plugin id before the '.'" if not plugin_id
            else "no parameter name after the '.'" if not param
            else "no value after the '='" if not values.strip()
            else "an empty value in the list" if not all(texts)
            else ""
        )  # fmt: skip
        if problem:
            raise GridError(
                f"--set {item!r}: {problem}; expected PLUGIN.PARAM=VALUE[,VALUE...] with a "
                f"method or dataset id, e.g. --set ssc.alpha=20,50 or --set bbc.n_components=128"
            )
        parsed = [parse_value(v) for v in texts]
        overrides.setdefault(plugin_id.strip(), {})[param.strip()] = parsed
    return overrides


def _grid(values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(values)
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*map(values.get, keys))
    ]


def _check_known(kind: str, plugin_id: str, given: dict[str, Any], known: dict[str, Any]) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        hints = "".join(did_you_mean(name, known) for name in unknown)
        raise GridError(
            f"{kind} {plugin_id!r} has no parameter {', '.join(map(repr, unknown))}.{hints} "
            f"Its parameters are: {', '.join(sorted(known)) or '(none)'}"
        )


PLAIN_VARIANT = "plain"
"""How the command line names a method's default variant (the one without a name)."""


def _wanted_variants(
    registry: Registry, methods: Sequence[str], variants: Sequence[str] | None
) -> set[str] | None:
    """The variant keys to keep (``""`` for ``plain``), or ``None`` for all of them."""
    if variants is None:
        return None
    known = {PLAIN_VARIANT} | {
        name for method_id in methods for name in registry.method(method_id).variants if name
    }
    unknown = [name for name in variants if name not in known]
    if unknown:
        hint = did_you_mean(unknown[0], sorted(known))
        raise GridError(
            f"unknown variant {unknown[0]!r} for methods {', '.join(methods)}.{hint} "
            f"Their variants: {', '.join(sorted(known))}"
        )
    return {"" if name == PLAIN_VARIANT else name for name in variants}


def _sizes_for(registry: Registry, dataset_id: str, sizes: Sequence[int] | None) -> list[int]:
    info = registry.dataset(dataset_id)
    if not sizes:
        return list(info.default_sizes)
    supported = [n for n in sizes if info.sizes is None or n in info.sizes]
    if not supported:
        info.check_size(sizes[0])  # raises with the supported sizes
    return supported


def expand_grid(
    registry: Registry,
    methods: Sequence[str],
    datasets: Sequence[str],
    sizes: Sequence[int] | None,
    seeds: Sequence[int],
    overrides: dict[str, dict[str, list[Any]]] | None = None,
    variants: Sequence[str] | None = None,
) -> list[Task]:
    """Every task of methods × datasets × sizes × seeds × variants × ``--set`` values.

    ``variants`` keeps only the named variants (``plain`` is a method's default, the
    variant without a name); a method without any of them is left out, and a name that
    no requested method has is a :class:`GridError` listing the names there are.

    A dataset skips requested sizes it does not support (BBC has one size) as long as
    it supports at least one of them; otherwise :class:`GridError` names its sizes.
    A method that learns from meta data gets its meta source resolved here
    (:func:`benchmark.meta.resolve_meta_source`).
    """
    overrides = overrides or {}
    wanted = _wanted_variants(registry, methods, variants)
    for plugin_id in overrides:
        if plugin_id not in registry.methods and plugin_id not in registry.datasets:
            hint = did_you_mean(plugin_id, [*registry.methods, *registry.datasets])
            raise GridError(
                f"--set names {plugin_id!r}, which is neither a method nor a dataset id.{hint} "
                f"Methods: {', '.join(sorted(registry.methods))}; "
                f"datasets: {', '.join(sorted(registry.datasets))}"
            )
    tasks: list[Task] = []
    probed: dict[str, bool] = {}
    for dataset_id in datasets:
        dataset = registry.dataset(dataset_id)
        base_data = {name: p.value for name, p in dataset.params.items()}
        data_grid = overrides.get(dataset_id, {})
        _check_known("dataset", dataset_id, data_grid, base_data)
        try:
            dataset_sizes = _sizes_for(registry, dataset_id, sizes)
        except ValueError as exc:
            raise GridError(str(exc)) from exc
        for method_id in methods:
            method = registry.method(method_id)
            defaults = method.params_for(dataset_id, dataset.features)
            base = {name: p.value for name, p in defaults.items()}
            sources = {name: p.source for name, p in defaults.items()}
            method_grid = overrides.get(method_id, {})
            _check_known("method", method_id, method_grid, base)
            for name in method_grid:
                sources[name] = "command line (--set)"
            for variant, variant_params in method.variants.items():
                if wanted is not None and variant not in wanted:
                    continue
                _check_known("method", method_id, dict(variant_params), base)
                for method_choice, data_choice, n_points, seed in itertools.product(
                    _grid(method_grid), _grid(data_grid), dataset_sizes, seeds
                ):
                    params = {**base, **variant_params, **method_choice}
                    omits = tuple(
                        name
                        for name, p in defaults.items()
                        if p.added_at is not NOT_ADDED_LATER and params[name] == p.added_at
                    )
                    data_params = {**base_data, **data_choice}
                    dim = dataset.dim(**data_params) if dataset.dim else None
                    try:
                        meta = resolve_meta_source(
                            registry, method, dataset_id, data_params, probed
                        )
                    except MetaSourceError as exc:
                        raise GridError(f"{method_id} on {dataset_id}: {exc}") from exc
                    tasks.append(
                        Task(
                            method=method_id,
                            dataset=dataset_id,
                            n_points=int(n_points),
                            seed=int(seed),
                            variant=variant,
                            params=params,
                            dataset_params=data_params,
                            method_path=registry.paths[("method", method_id)],
                            dataset_path=registry.paths[("dataset", dataset_id)],
                            param_sources=sources,
                            memory_estimate_mb=(
                                float(method.memory_mb(int(n_points), dim))
                                if dim is not None
                                else None
                            ),
                            meta_source=meta,
                            identity_omits=omits,
                            meta_path=(
                                None
                                if meta is None
                                else registry.paths[("dataset", meta["dataset"])]
                            ),
                        )
                    )
    return tasks
