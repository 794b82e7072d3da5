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


RUN = ["run", "--methods", "ssc", "--datasets", "bbc", "--dry-run"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seeds", "-1"], "--seeds: expected comma-separated non-negative integers"),
        (["--seeds", "0,x"], "--seeds: expected comma-separated non-negative integers"),
        (["--sizes", "0"], "--sizes: expected comma-separated positive integers"),
        (["--sizes", ","], "--sizes: expected comma-separated positive integers"),
        (["--jobs", "0"], "--jobs: expected a positive integer"),
    ],
)
def test_bad_numbers_are_usage_errors_without_traceback(tmp_path, capsys, args, expected):
    with pytest.raises(SystemExit) as exit_info:
        main([*RUN, "--out", str(tmp_path), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("ssc.alpha", "no '='"),
        ("ssc.alpha=", "no value after the '='"),
        ("ssc.alpha=20,", "an empty value in the list"),
        ("alpha=20", "no '.' between the plugin id and the parameter"),
        (".alpha=20", "no plugin id before the '.'"),
        ("ssc.=20", "no parameter name after the '.'"),
        ("sscc.alpha=20", "neither a method nor a dataset id. Did you mean 'ssc'?"),
        ("ssc.alpah=20", "has no parameter 'alpah'. Did you mean 'alpha'?"),
        ("bbc.n_component=64", "has no parameter 'n_component'. Did you mean 'n_components'?"),
    ],
)
def test_malformed_set_says_what_is_expected(tmp_path, capsys, setting, expected):
    assert main([*RUN, "--out", str(tmp_path), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    if "=" not in setting or "." not in setting.partition("=")[0]:
        assert "expected PLUGIN.PARAM=VALUE[,VALUE...]" in err


@pytest.mark.parametrize(
    ("flag", "typo", "hint"),
    [("--methods", "ssc-mop", "ssc-omp"), ("--datasets", "fashion_mnist", "fashion-mnist")],
)
def test_unknown_ids_suggest_the_closest_known_one(tmp_path, capsys, flag, typo, hint):
    args = [*RUN, "--out", str(tmp_path)]
    args[args.index(flag) + 1] = typo
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"Did you mean '{hint}'" in err and "Known" in err
