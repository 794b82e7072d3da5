"""The registry: one plugin file that fails to import does not take the others down."""

from __future__ import annotations

import pytest

from benchmark.registry import Registry, UnknownPluginError

BROKEN = """
from benchmark.plugins import MethodInfo
raise KeyError("bbc")  # a half-edited plugin
"""


def test_a_broken_plugin_file_is_reported_and_the_others_still_load(tmp_path):
    (tmp_path / "half_written.py").write_text(BROKEN)
    registry = Registry([tmp_path])
    assert "ssc" in registry.methods and "bbc" in registry.datasets
    [(path, error)] = registry.broken.items()
    assert path.endswith("half_written.py") and "KeyError('bbc')" in error
    with pytest.raises(UnknownPluginError, match=r"half_written\.py: .*KeyError"):
        registry.method("half-written")
