"""Helpers for the dataset tests: where the mirror is, and skipping (or failing, in CI)
when it is not there.

The mirror is ``$SUBSPACE_BENCH_MIRROR``, else ``../shared/data`` beside the repository
when it exists. With ``SUBSPACE_BENCH_REQUIRE_DATA=1`` (CI) a missing mirror fails the
test instead of skipping it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from benchmark.plugins import DataBundle, DatasetInfo
from benchmark.registry import PROJECT_ROOT, load_module

REQUIRE_DATA_ENV = "SUBSPACE_BENCH_REQUIRE_DATA"
DEFAULT_MIRROR = PROJECT_ROOT.parent / "shared" / "data"


def mirror_root() -> Path | None:
    """The test mirror folder, or ``None`` when there is none."""
    value = os.environ.get("SUBSPACE_BENCH_MIRROR")
    if value:
        return Path(value)
    return DEFAULT_MIRROR if DEFAULT_MIRROR.is_dir() else None


def require_mirror(*files: str) -> Path:
    """The mirror folder, holding ``files`` (paths relative to it); skip the test otherwise,
    or fail it when ``SUBSPACE_BENCH_REQUIRE_DATA=1``."""
    root = mirror_root()
    missing = [f for f in files if root is None or not (root / f).exists()]
    if root is not None and root.is_dir() and not missing:
        return root
    reason = (
        f"dataset mirror not found ({root or 'set SUBSPACE_BENCH_MIRROR'}"
        f"{'; missing ' + ', '.join(missing) if missing else ''})"
    )
    if os.environ.get(REQUIRE_DATA_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_DATA_ENV}=1 requires it")
    pytest.skip(reason)


def dataset_module(file_name: str) -> Any:
    """The dataset plugin module ``datasets/<file_name>``, loaded as the registry does."""
    return load_module(PROJECT_ROOT / "datasets" / file_name)


def load_default(info: DatasetInfo, n_points: int, seed: int, **overrides: Any) -> DataBundle:
    """``info.load`` with its declared parameter defaults, some overridden."""
    params = {name: param.value for name, param in info.params.items()}
    unknown = set(overrides) - set(params)
    if unknown:
        raise KeyError(f"{info.id} has no parameters {sorted(unknown)}")
    return info.load(n_points, seed, **{**params, **overrides})
