"""Cheap plugin declarations: what `list`, `--help` and a classical task's worker import,
and the lazily imported estimators (``"module:Class"`` and ``"file.py:Class"``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.plugins import EstimatorImportError, MethodInfo, Param, resolve_estimator
from benchmark.registry import Registry
from benchmark.tasks import expand_grid

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "cvxpy", "sklearn", "scipy", "pandas", "PIL", "matplotlib")
"""Libraries that take from a tenth of a second to seconds to import."""


def heavy_imports(module: str, *args: str, heavy: tuple[str, ...] = HEAVY) -> set[str]:
    """The ``heavy`` libraries that ``python -m module args`` has imported when it exits."""
    code = textwrap.dedent(f"""
        import atexit, runpy, sys
        wanted = set(sys.argv[1].split(","))
        atexit.register(lambda: print("IMPORTED:" + ",".join(sorted(
            {{name.split(".")[0] for name in sys.modules}} & wanted
        )), file=sys.__stderr__))
        sys.argv = [{module!r}] + sys.argv[2:]
        runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code, ",".join(heavy), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    [line] = [x for x in done.stderr.splitlines() if x.startswith("IMPORTED:")]
    return set(filter(None, line.removeprefix("IMPORTED:").split(",")))


@pytest.mark.parametrize("args", [("list",), ("list", "--params"), ("--help",), ("run", "--help")])
def test_listing_and_help_import_no_heavy_library(args):
    assert heavy_imports("benchmark", *args) == set()


def test_a_classical_task_runs_without_pytorch(tmp_path):
    [task] = expand_grid(Registry(), ["kmeans"], ["synthetic"], [60], [0])
    args = (json.dumps(task.to_dict()), "--out", str(tmp_path), "--attempt", "probe")
    imported = heavy_imports("benchmark.worker", *args, heavy=("torch", "cvxpy", "sklearn"))
    assert imported == {"sklearn"}  # scikit-learn's k-means ran, PyTorch was never imported
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "records").glob("*.json")]
    assert record["status"] == "ok"


def test_estimators_resolve_from_a_class_a_module_or_a_file_beside_the_plugin(tmp_path):
    (tmp_path / "estimators").mkdir()
    (tmp_path / "estimators" / "mine.py").write_text(
        "class Mine:\n    def __init__(self, n_clusters=2, random_state=None):\n        pass\n"
    )
    (tmp_path / "mine.py").write_text(
        textwrap.dedent("""
            from benchmark.plugins import MethodInfo, Param
            METHOD = MethodInfo(
                id="mine", name="Mine", estimator="estimators/mine.py:Mine",
                defaults={"*": {}}, memory_mb=lambda n, d: 1.0,
            )
        """)
    )
    info = Registry([tmp_path]).method("mine")
    assert info.estimator == "estimators/mine.py:Mine"
    assert info.estimator_class.__name__ == "Mine"
    assert info.plugin_file == str((tmp_path / "mine.py").resolve())
    assert resolve_estimator("benchmark.store:Store").__name__ == "Store"
    assert resolve_estimator(dict) is dict


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("NoColon", "name the class after a colon"),
        ("benchmark.store:Nothing", "defines no class 'Nothing'"),
        ("estimators/mine.py:Mine", "relative to its plugin file"),
    ],
)
def test_a_bad_estimator_reference_says_what_to_write(reference, message):
    info = MethodInfo(
        id="x", name="X", estimator=reference, defaults={"*": {"a": Param(1, "choice: x")}},
        memory_mb=lambda n, d: 1.0,
    )  # fmt: skip
    with pytest.raises(EstimatorImportError, match=message):
        _ = info.estimator_class
