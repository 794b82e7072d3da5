"""``perf`` and its data: the authors' noise model, the process baseline, and SSC-OMP and
EnSC fitting under an address-space cap that no dense n×n matrix fits in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmark.perf import HEAVY_MODULES, _verdict, describe_noise
from benchmark.registry import Registry
from benchmark.synthetic import union_of_subspaces
from benchmark.tasks import expand_grid
from tests.test_plugin_imports import heavy_imports

REPO = Path(__file__).resolve().parent.parent
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
K, d, D, M = 4, 5, 100, 250
"""4 subspaces of dimension 5 in R^100, 250 points each."""


def residual_per_coordinate(noise: float, noise_model: str) -> tuple[np.ndarray, float]:
    """Rows of noisy data and the RMS per coordinate of their part off the true subspaces.

    The noiseless twin (same seed, noise 0) holds the very same clean points: the noise is
    drawn after them, so each group's clean points span its subspace exactly.
    """
    X, y = union_of_subspaces(K, d, D, M, noise=noise, seed=3, noise_model=noise_model)
    clean, _ = union_of_subspaces(K, d, D, M, noise=0.0, seed=3, noise_model=noise_model)
    squares = 0.0
    for k in range(K):
        basis = np.linalg.svd(clean[y == k].astype(np.float64), full_matrices=False)[2][:d]
        points = X[y == k].astype(np.float64)
        off = points - (points @ basis.T) @ basis
        squares += float((off**2).sum())
    return X, np.sqrt(squares / (K * M * (D - d)))


def test_authors_noise_is_sigma_per_coordinate_on_rows_renormalised_after():
    sigma = 0.05
    X, rms = residual_per_coordinate(sigma, "authors")
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    # x = (u + e)/‖u + e‖ with ‖u + e‖² ≈ 1 + Dσ²: the part off the subspace is P⊥e/‖u + e‖
    assert rms == pytest.approx(sigma / np.sqrt(1 + D * sigma**2), rel=0.03)


def test_norm_noise_is_the_noise_vectors_norm_and_rows_keep_it():
    noise = 0.05
    X, rms = residual_per_coordinate(noise, "norm")
    norms = np.linalg.norm(X, axis=1)
    assert norms.std() > 1e-3  # not renormalised
    assert rms == pytest.approx(noise / np.sqrt(D), rel=0.03)


def test_noise_models_draw_the_same_clean_points():
    authors, y1 = union_of_subspaces(3, 2, 10, 20, noise=0.0, seed=1, noise_model="authors")
    norm, y2 = union_of_subspaces(3, 2, 10, 20, noise=0.0, seed=1, noise_model="norm")
    np.testing.assert_array_equal(authors, norm)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_model": "gaussian"}, "noise_model must be one of 'norm', 'authors'"),
        ({"noise_model": "authors", "unit_norm": False}, "set unit_norm=True"),
    ],
)
def test_a_bad_noise_model_says_what_to_use(kwargs, message):
    with pytest.raises(ValueError, match=message):
        union_of_subspaces(3, 2, 10, 20, noise=0.01, **kwargs)


def test_the_synthetic_dataset_offers_both_noise_models_and_keeps_norm_by_default():
    dataset = Registry().dataset("synthetic")
    params = {name: p.value for name, p in dataset.params.items()}
    assert params["noise_model"] == "norm"
    default = dataset.load(100, 0, **params)
    expected, _ = union_of_subspaces(5, 4, 30, 20, 0.01, True, 0)
    np.testing.assert_array_equal(default.X, expected)
    authors = dataset.load(100, 0, **{**params, "noise_model": "authors", "noise": 0.1})
    np.testing.assert_allclose(np.linalg.norm(authors.X, axis=1), 1.0, atol=1e-5)


def test_describe_noise_names_the_model_and_sigma():
    assert describe_noise(0.01, 512, "authors") == (
        "noise authors: σ = 0.01 per coordinate (norm ≈ 0.226), rows renormalised after"
    )
    assert describe_noise(0.01, 400, "norm") == (
        "noise norm: σ = 0.0005 per coordinate (norm ≈ 0.01), not renormalised"
    )


def test_verdict_checks_the_targets_at_their_sizes():
    row = {"method": "ssc-omp", "n": 10_000, "total_s": 9.0, "spectral_s": 1.0}
    assert _verdict({**row, "peak_mb": 400, "acc": 1.0}) == "time > 8 s"
    assert _verdict({**row, "total_s": 7.0, "peak_mb": 500, "acc": 0.98}) == (
        "memory > 470 MiB; ACC < 0.99"
    )
    assert _verdict({**row, "n": 100_000, "total_s": 800, "peak_mb": 5000, "acc": 1.0}) == "ok"
    assert _verdict({**row, "n": 5_000, "peak_mb": 9999, "acc": 0.0}) == ""


def run_perf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmark", "perf", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **ONE_THREAD},
        timeout=120,
        check=True,
    )


def test_perf_prints_the_noise_and_each_methods_process_baseline(tmp_path):
    rows_file = tmp_path / "rows.json"
    small = ["--subspaces", "4", "--subspace-dim", "3", "--ambient-dim", "30", "--noise", "0.02"]
    done = run_perf("--sizes", "200", "--methods", "ssc-omp", *small, "--json", str(rows_file))
    assert "noise authors: σ = 0.02 per coordinate" in done.stdout
    [row] = json.loads(rows_file.read_text())
    assert 50 < row["baseline_mb"] <= row["peak_mb"]
    assert "torch" not in row["heavy_modules"] and "scipy" in row["heavy_modules"]
    assert f"ssc-omp: process baseline {row['baseline_mb']:.0f} MiB" in done.stdout
    assert "baseline MiB" in done.stdout and "(not torch)" in done.stdout
    assert f"{row['load_start']:.1f}→{row['load_avg']:.1f}" in done.stdout  # each run's load
    # the baseline imported the same heavy modules as a real ssc-omp task in a worker
    [task] = expand_grid(Registry(), ["ssc-omp"], ["synthetic"], [60], [0])
    worker_args = (json.dumps(task.to_dict()), "--out", str(tmp_path), "--attempt", "probe")
    worker = heavy_imports("benchmark.worker", *worker_args, heavy=HEAVY_MODULES)
    assert worker == set(row["heavy_modules"])


NO_DENSE_FIT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from benchmark.metrics import clustering_accuracy
    from benchmark.registry import Registry
    from benchmark.synthetic import union_of_subspaces

    n, budget = int(sys.argv[1]), int(sys.argv[2])
    registry = Registry()
    methods = {
        "ssc-omp": registry.method("ssc-omp").estimator_class(n_clusters=10, kmax=4),
        "ensc": registry.method("ensc").estimator_class(
            n_clusters=10, support_size=30, n_nonzero=10
        ),
    }
    X, y = union_of_subspaces(10, 4, 60, n // 10, noise=0.0)  # noiseless: few ORGEN rounds
    with open("/proc/self/status") as status:
        [vm_kib] = [line.split()[1] for line in status if line.startswith("VmSize:")]
    cap = int(vm_kib) * 1024 + budget
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    result = {}
    for name, estimator in methods.items():
        estimator.fit(X)
        result[name] = clustering_accuracy(y, estimator.labels_)
    try:
        np.empty((n, n))
        result["dense"] = "allocated"
    except MemoryError:
        result["dense"] = "refused"
    print(json.dumps(result))
""")


def test_ssc_omp_and_ensc_fit_where_no_dense_n_by_n_fits():
    """8,000 points under an address-space cap of 0.9 × (8 bytes × n²) above what the
    process holds before fitting: a dense float64 n×n anywhere on their path (coefficients,
    affinity, spectral step) would raise MemoryError; their point blocks fit easily."""
    n = 8_000
    budget = int(0.9 * 8 * n * n)
    done = subprocess.run(
        [sys.executable, "-c", NO_DENSE_FIT, str(n), str(budget)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **ONE_THREAD},
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["dense"] == "refused"  # the cap really excludes a dense n×n
    assert result["ssc-omp"] > 0.9 and result["ensc"] > 0.9
