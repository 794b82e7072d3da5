"""``./bench``, README's set-up-and-run script: what it would install and run (its plan),
with and without an NVIDIA GPU, and when the install is already done. No install here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench"


def path_without_nvidia_smi() -> str:
    """``$PATH`` without any folder that holds an ``nvidia-smi``."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(f for f in folders if not (Path(f) / "nvidia-smi").exists())


@pytest.fixture
def fake_gpu(tmp_path) -> Path:
    """A folder with an ``nvidia-smi`` that lists one GPU."""
    folder = tmp_path / "gpu-bin"
    folder.mkdir()
    tool = folder / "nvidia-smi"
    tool.write_text('#!/bin/sh\necho "GPU 0: NVIDIA Fake (UUID: GPU-0)"\n')
    tool.chmod(0o755)
    return folder


def bench(tmp_path, *args: str, gpu: Path | None = None, **env: str):
    path = path_without_nvidia_smi()
    if gpu is not None:
        path = os.pathsep.join([str(gpu), path])
    environment = {**os.environ, "PATH": path, "VENV": str(tmp_path / "venv"), **env}
    environment.pop("BENCH_TORCH", None)
    environment.update(env)
    return subprocess.run(
        ["sh", str(SCRIPT), *args], capture_output=True, text=True, env=environment, timeout=60
    )


def plan(tmp_path, *args: str, **kwargs) -> dict[str, str]:
    done = bench(tmp_path, "--print-plan", *args, **kwargs)
    assert done.returncode == 0, done.stderr
    return dict(line.split(": ", 1) for line in done.stdout.splitlines())


def test_without_a_gpu_the_plan_is_a_new_environment_with_the_cpu_wheel(tmp_path):
    steps = plan(tmp_path, "main")
    assert steps["project"] == str(REPO)
    assert steps["environment"] == f"{tmp_path / 'venv'} (to create with python3)"
    assert steps["torch"].startswith("the CPU wheel, pinned by constraints/cpu.txt")
    assert steps["install"] == "python -m pip install -c constraints/cpu.txt -e .[test]"
    assert steps["then"] == (
        "python -m benchmark run --methods ssc,ensc,ssc-omp,lrr,kmeans,spectral "
        "--datasets bbc; python -m benchmark table --out runs"
    )
    assert not (tmp_path / "venv").exists()  # a plan changes nothing


def test_with_a_gpu_the_plan_is_the_ordinary_cuda_build(tmp_path, fake_gpu):
    steps = plan(tmp_path, "test", "-x", gpu=fake_gpu)
    assert steps["torch"] == "the ordinary CUDA build (nvidia-smi lists a GPU)"
    assert steps["install"] == "python -m pip install -e .[test]"
    assert steps["then"] == "python -m pytest -q -x"


def test_a_broken_nvidia_smi_or_bench_torch_chooses_the_cpu_wheel(tmp_path, fake_gpu):
    (fake_gpu / "nvidia-smi").write_text("#!/bin/sh\necho 'driver not loaded' >&2\nexit 9\n")
    assert plan(tmp_path, "list", gpu=fake_gpu)["torch"].startswith("the CPU wheel")
    (fake_gpu / "nvidia-smi").write_text('#!/bin/sh\necho "GPU 0: NVIDIA Fake"\n')
    steps = plan(tmp_path, "list", "--params", gpu=fake_gpu, BENCH_TORCH="cpu")
    assert steps["torch"] == "the CPU wheel, pinned by constraints/cpu.txt (BENCH_TORCH=cpu)"
    assert steps["then"] == "python -m benchmark list --params"
    wrong = bench(tmp_path, "--print-plan", "list", BENCH_TORCH="gpu")
    assert wrong.returncode == 2 and "BENCH_TORCH must be cpu, cuda or auto" in wrong.stderr


def test_a_done_install_is_skipped_until_what_it_recorded_changes(tmp_path, fake_gpu):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    record = plan(tmp_path, "list")["record"]
    (venv / ".subspace-bench-install").write_text(record + "\n")
    steps = plan(tmp_path, "list")
    assert steps["environment"] == f"{venv} (exists)"
    assert steps["install"] == "up to date (nothing to do)"
    # a GPU appears: the install is redone for CUDA torch
    assert plan(tmp_path, "list", gpu=fake_gpu)["install"] == "python -m pip install -e .[test]"


def test_the_main_job_table_reads_the_folder_the_run_wrote(tmp_path):
    steps = plan(tmp_path, "main", "--out", "mine", "--seeds", "0")
    assert steps["then"].endswith("--out mine --seeds 0; python -m benchmark table --out mine")


def test_a_missing_or_old_python_is_named_with_the_fix(tmp_path):
    missing = bench(tmp_path, "prepare", BENCH_PYTHON=str(tmp_path / "no-python"))
    assert missing.returncode == 2 and "set BENCH_PYTHON" in missing.stderr
    old = tmp_path / "python2"
    old.write_text("#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python 2.7.18'\nexit 1\n")
    old.chmod(0o755)
    too_old = bench(tmp_path, "prepare", BENCH_PYTHON=str(old))
    assert too_old.returncode == 2
    assert "is not Python >= 3.11 (Python 2.7.18)" in too_old.stderr
    assert not (tmp_path / "venv").exists()


def test_readme_and_ci_use_the_same_two_commands():
    readme = (REPO / "README.md").read_text()
    assert "./bench main" in readme and "./bench test" in readme
    assert "./bench test" in (REPO / ".ci" / "run").read_text()
