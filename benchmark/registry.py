"""Plugin discovery: method and dataset files loaded by path under a private namespace.

As in benchopt, plugin folders are not installed packages (``datasets`` would shadow
the Hugging Face library in users' environments): each ``*.py`` file in ``methods/``,
``datasets/`` and any extra plugin folder is imported from its path under
``_subspace_bench_plugins.*`` and scanned for :class:`MethodInfo` and
:class:`DatasetInfo` objects. A worker process re-loads one plugin from (path, id).
Files whose name starts with ``_`` and sub-folders (``methods/estimators/``) are not
scanned: they hold what a declaration names but does not import (a method's estimator,
see :attr:`MethodInfo.estimator`), so that reading every declaration stays cheap.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from benchmark.plugins import DatasetInfo, MethodInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILTIN_PLUGIN_DIRS = (PROJECT_ROOT / "methods", PROJECT_ROOT / "datasets")
PLUGIN_PATH_ENV = "SUBSPACE_BENCH_PLUGINS"
"""Extra plugin folders (``os.pathsep``-separated), added to those given by ``--plugins``."""
_NAMESPACE = "_subspace_bench_plugins"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the known names closest to a mistyped one, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


class UnknownPluginError(LookupError):
    """An id that no plugin declares; the message lists the known ids (and the plugin
    files that failed to import, one of which may have declared it)."""

    def __init__(
        self,
        kind: str,
        plugin_id: str,
        known: Iterable[str],
        broken: dict[str, str] | None = None,
    ) -> None:
        known = sorted(known)
        message = (
            f"unknown {kind} {plugin_id!r}.{did_you_mean(plugin_id, known)} "
            f"Known {kind}s: {', '.join(known) or '(none)'}. "
            f"Run `python -m benchmark list {kind}s` for details."
        )
        if broken:
            failures = "; ".join(f"{path}: {error}" for path, error in sorted(broken.items()))
            message += f" Plugin files that failed to import: {failures}"
        super().__init__(message)
        self.kind, self.plugin_id, self.known = kind, plugin_id, known


class PluginLoadError(ImportError):
    """A plugin file that cannot be imported or declares something invalid."""


def load_module(path: str | Path) -> ModuleType:
    """Import the plugin file at ``path`` under a private, path-derived module name."""
    path = Path(path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"{_NAMESPACE}.{path.stem.replace('-', '_')}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginLoadError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PluginLoadError(f"plugin file {path} failed to import: {exc!r}") from exc
    for attribute, value in list(vars(module).items()):
        if isinstance(value, MethodInfo) and value.plugin_file is None:
            # the file that declared the method: "file.py:Class" estimators are found from it
            setattr(module, attribute, replace(value, plugin_file=str(path)))
    return module


def _declared(module: ModuleType) -> list[MethodInfo | DatasetInfo]:
    return [value for value in vars(module).values() if isinstance(value, MethodInfo | DatasetInfo)]


@dataclass(frozen=True)
class PluginRef:
    """Where a plugin lives: enough for a worker process to load it again."""

    path: str
    id: str


def _plugin_files(folder: Path) -> list[Path]:
    candidates = [folder, folder / "methods", folder / "datasets"]
    files: list[Path] = []
    for directory in candidates:
        if directory.is_dir():
            files.extend(p for p in sorted(directory.glob("*.py")) if not p.name.startswith("_"))
    return files


class Registry:
    """All methods and datasets found in the built-in and extra plugin folders.

    A plugin file that fails to import does not take the others down: it is kept in
    :attr:`broken` (path → error), and asking for an id it may have declared names it.
    """

    def __init__(self, extra_dirs: Iterable[str | Path] = ()) -> None:
        self.methods: dict[str, MethodInfo] = {}
        self.datasets: dict[str, DatasetInfo] = {}
        self.paths: dict[tuple[str, str], str] = {}
        self.broken: dict[str, str] = {}
        env_dirs = [d for d in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep) if d]
        for folder in [*BUILTIN_PLUGIN_DIRS, *map(Path, extra_dirs), *map(Path, env_dirs)]:
            if not Path(folder).is_dir():
                raise PluginLoadError(f"plugin folder {folder} does not exist")
            files = [folder] if Path(folder).is_file() else _plugin_files(Path(folder))
            for path in dict.fromkeys(p.resolve() for p in files):
                self._add_module(path)

    def _add_module(self, path: Path) -> None:
        try:
            module = load_module(path)
        except PluginLoadError as exc:
            self.broken[str(path)] = repr(exc.__cause__) if exc.__cause__ else str(exc)
            return
        for info in _declared(module):
            kind = "method" if isinstance(info, MethodInfo) else "dataset"
            table = self.methods if kind == "method" else self.datasets
            previous = self.paths.get((kind, info.id))
            if previous is not None and previous != str(path):
                raise PluginLoadError(
                    f"{kind} id {info.id!r} is declared twice: in {previous} and in {path}"
                )
            table[info.id] = info  # type: ignore[assignment]
            self.paths[(kind, info.id)] = str(path)

    def method(self, method_id: str) -> MethodInfo:
        """The method plugin ``method_id``; :class:`UnknownPluginError` lists the known ids."""
        if method_id not in self.methods:
            raise UnknownPluginError("method", method_id, self.methods, self.broken)
        return self.methods[method_id]

    def dataset(self, dataset_id: str) -> DatasetInfo:
        """The dataset plugin ``dataset_id``; :class:`UnknownPluginError` lists the known ids."""
        if dataset_id not in self.datasets:
            raise UnknownPluginError("dataset", dataset_id, self.datasets, self.broken)
        return self.datasets[dataset_id]

    def ref(self, kind: str, plugin_id: str) -> PluginRef:
        """The (path, id) of a plugin, for a worker to re-load it."""
        return PluginRef(self.paths[(kind, plugin_id)], plugin_id)

    def resolve_methods(self, spec: str) -> list[str]:
        """``all`` (every registered method) or a comma-separated list of ids."""
        if spec.strip() == "all":
            return sorted(self.methods)
        ids = [s.strip() for s in spec.split(",") if s.strip()]
        for method_id in ids:
            self.method(method_id)
        return ids

    def resolve_datasets(self, spec: str) -> list[str]:
        """``all`` (every target dataset) or a comma-separated list of ids."""
        if spec.strip() == "all":
            return sorted(i for i, d in self.datasets.items() if d.kind == "target")
        ids = [s.strip() for s in spec.split(",") if s.strip()]
        for dataset_id in ids:
            self.dataset(dataset_id)
        return ids


def load_plugin(ref: PluginRef, kind: str) -> MethodInfo | DatasetInfo:
    """Re-load one plugin from its file inside a worker process."""
    wanted = MethodInfo if kind == "method" else DatasetInfo
    for info in _declared(load_module(ref.path)):
        if isinstance(info, wanted) and info.id == ref.id:
            return info
    raise PluginLoadError(f"{ref.path} declares no {kind} with id {ref.id!r}")
