"""Every command answers --help, and list shows kinds and parameter sources."""

import subprocess
import sys

import pytest

from benchmark.cli import main


@pytest.mark.parametrize("command", ["run", "table", "list", "status", "fetch", "perf"])
def test_every_command_has_help(command):
    result = subprocess.run(
        [sys.executable, "-m", "benchmark", command, "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "usage:" in result.stdout


def test_list_shows_kinds_and_parameter_sources(capsys):
    assert main(["list", "--params"]) == 0
    out = capsys.readouterr().out
    for expected in ("ssc", "kmeans", "reference", "bbc", "meta", "synthetic", "reference code"):
        assert expected in out
