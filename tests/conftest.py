"""Shared test fixtures: the repository's registry plus the faulty test plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.registry import Registry

FIXTURE_PLUGINS = Path(__file__).parent / "fixture_plugins"
pytest_plugins = ("tests.deep_fixtures",)


@pytest.fixture(scope="session")
def registry() -> Registry:
    """Built-in plugins plus ``tests/fixture_plugins``."""
    return Registry([FIXTURE_PLUGINS])
