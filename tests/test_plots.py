"""Figure data kept by deep fits, and `plot`: Figures 2-3, accuracy against cost, sensitivity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from benchmark.cli import main
from benchmark.figures.data import (
    MAX_BYTES,
    MAX_DIMS,
    MAX_POINTS,
    figure_data,
    figure_data_path,
    load_figure_data,
    save_figure_data,
    stratified_sample,
)
from benchmark.store import Store

from .deep_fixtures import small_model

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_data_home")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_deep_fit_keeps_its_codes_and_affinity_for_the_figures(nonlinear_union, tmp_path):
    X, y = nonlinear_union
    model = small_model(pretrain_epochs=10, finetune_epochs=20).fit(X)
    assert model.latent_codes_.shape == (len(y), 32)  # the encoder's codes Z, one row a point
    data = figure_data(model, y, seed=0)
    path = save_figure_data(tmp_path / "fd.npz", data)
    assert path.stat().st_size <= MAX_BYTES
    kept = load_figure_data(path)
    m = len(y)  # 160 points: all kept
    assert kept["indices"].tolist() == list(range(m))
    assert kept["labels_true"].tolist() == y.tolist()
    assert kept["labels_pred"].tolist() == model.labels_.tolist()
    assert kept["codes"].dtype == np.float16 and kept["codes"].shape == (m, 32)
    assert kept["affinity"].dtype == np.uint8 and kept["affinity"].shape == (m, m)
    # every principal direction kept: the codes' geometry is the fit's, up to float16
    codes = kept["codes"].astype(np.float64) * float(kept["codes_scale"])
    np.testing.assert_allclose(pdist(codes), pdist(model.latent_codes_), rtol=0, atol=2e-3 * (
        pdist(model.latent_codes_).max()))  # fmt: skip
    assert float(kept["codes_variance_kept"]) == pytest.approx(1.0)
    # the affinity clustered, each row scaled to its largest entry
    affinity = np.asarray(model.affinity_matrix_)
    assert (kept["affinity"].max(axis=1) == 255).all()
    np.testing.assert_allclose(
        kept["affinity"] / 255.0, affinity / affinity.max(axis=1, keepdims=True), atol=0.5 / 255
    )


def test_figure_data_stays_under_the_limit_whatever_the_data(tmp_path):
    rng = np.random.default_rng(0)
    n = 2000
    fit = SimpleNamespace(
        latent_codes_=rng.standard_normal((n, 200)).astype(np.float32),
        labels_=rng.integers(0, 10, n),
        affinity_matrix_=rng.random((n, n)),  # incompressible: the worst case
    )
    labels = np.repeat(np.arange(10), n // 10)
    data = figure_data(fit, labels, seed=3)
    assert data["codes"].shape == (MAX_POINTS, MAX_DIMS)
    assert data["affinity"].shape == (MAX_POINTS, MAX_POINTS)
    assert np.bincount(data["labels_true"]).tolist() == [MAX_POINTS // 10] * 10
    assert 0 < float(data["codes_variance_kept"]) < 1
    assert save_figure_data(tmp_path / "fd.npz", data).stat().st_size <= MAX_BYTES


def test_estimators_without_latent_codes_keep_no_figure_data():
    fit = SimpleNamespace(labels_=np.zeros(5, int), affinity_matrix_=np.eye(5))
    assert figure_data(fit, np.zeros(5, int), seed=0) is None


def test_stratified_sample_keeps_class_proportions_and_follows_the_seed():
    labels = np.repeat([0, 1, 2, 3], [5000, 3000, 1990, 10])
    sample = stratified_sample(labels, 500, seed=1)
    assert len(sample) == 500 and np.all(np.diff(sample) > 0)
    assert np.bincount(labels[sample]).tolist() == [249, 150, 100, 1]  # every class shows
    assert np.array_equal(sample, stratified_sample(labels, 500, seed=1))
    assert not np.array_equal(sample, stratified_sample(labels, 500, seed=2))
    assert stratified_sample(labels[:300], 500, seed=1).tolist() == list(range(300))


def test_a_crash_while_saving_leaves_no_figure_data(tmp_path, monkeypatch):
    def killed(fd):
        raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr("os.fsync", killed)
    path = tmp_path / "figure-data" / "task.npz"
    with pytest.raises(KeyboardInterrupt):
        save_figure_data(path, {"format": np.array(1), "affinity": np.zeros((3, 3), np.uint8)})
    assert list(path.parent.iterdir()) == []


def _run_grid(out: Path, home: Path) -> int:
    """DSCN-L1 at two λ1 on 100 synthetic points, seeds 0 and 1: four tiny fits."""
    settings = [
        "dscn-l1.pretrain_epochs=3",
        "dscn-l1.finetune_epochs=3",
        "dscn-l1.output_activation=linear",
        "dscn-l1.post_subspace_dim=2",
        "dscn-l1.lambda1=1,10",
    ]
    args = ["run", "--methods", "dscn-l1", "--variants", "plain", "--datasets", "synthetic"]
    args += ["--sizes", "100"]
    args += ["--seeds", "0,1", "--executor", "debug", "--out", str(out), "--data-home", str(home)]
    for item in settings:
        args += ["--set", item]
    return main(args)


@pytest.fixture(scope="module")
def deep_runs(tmp_path_factory) -> Path:
    """An output folder with 4 tiny deep records and their figure data."""
    root = tmp_path_factory.mktemp("deep-runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUBSPACE_BENCH_DATA", str(root / "home"))  # the CLI overwrites it
        assert _run_grid(root / "out", root / "home") == 0
    torch.set_num_threads(threads)
    return root / "out"


def test_the_worker_writes_figure_data_beside_every_deep_record(deep_runs):
    records = Store(deep_runs).records()
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    for record in records:
        data = load_figure_data(figure_data_path(deep_runs, record["task_id"]))
        assert data["indices"].tolist() == list(range(100))
        assert data["codes"].shape == (100, MAX_DIMS)  # 128 units, 50 principal components
    assert len(list((deep_runs / "figure-data").iterdir())) == 4


def test_plot_draws_every_kind_as_png_and_svg(deep_runs, tmp_path, capsys):
    to = tmp_path / "figures"
    assert main(["plot", "--out", str(deep_runs), "--to", str(to)]) == 0
    stems = {p.stem for p in to.glob("*.png")}
    assert {p.stem for p in to.glob("*.svg")} == stems
    # one fig2 and one fig3 per setting (λ1), its lowest seed
    for prefix in ("fig2-tsne", "fig3-affinity"):
        assert {s for s in stems if s.startswith(prefix)} == {
            f"{prefix}-dscn-l1-synthetic-n100-s0-lambda1-{value}" for value in (1, 10)
        }
    assert "acc-vs-cost-synthetic" in stems
    assert {s for s in stems if s.startswith("sensitivity")} == {
        "sensitivity-dscn-l1-synthetic-n100-lambda1"
    }
    for path in to.iterdir():
        content = path.read_bytes()
        assert len(content) > 5000, path
        assert content.startswith(PNG_SIGNATURE) if path.suffix == ".png" else b"<svg" in content
    assert f"{len(stems)} figure(s) in {to}" in capsys.readouterr().out


def test_plot_defaults_to_the_figures_folder_and_filters_by_seed(deep_runs, tmp_path):
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    (out / "figure-data").mkdir()
    record = next(r for r in Store(deep_runs).records() if r["seed"] == 1)
    Store(out).write_record(record)
    npz = figure_data_path(deep_runs, record["task_id"])
    figure_data_path(out, record["task_id"]).write_bytes(npz.read_bytes())
    assert main(["plot", "--out", str(out), "--kind", "fig3", "--seeds", "1"]) == 0
    assert [p.name for p in sorted((out / "figures").iterdir())] == [
        f"fig3-affinity-dscn-l1-synthetic-n100-s1{suffix}" for suffix in (".png", ".svg")
    ]


def test_a_record_without_figure_data_says_which_command_makes_it(deep_runs, tmp_path, capsys):
    out = tmp_path / "out"
    for record in Store(deep_runs).records():
        Store(out).write_record(record)  # the records, not their figure data
    assert main(["plot", "--out", str(out), "--kind", "fig2", "--to", str(tmp_path / "f")]) == 1
    err = capsys.readouterr().err
    assert "no figure data in" in err and "for 2 deep record(s)" in err  # the lowest seeds
    assert f"python -m benchmark verify --out {out} --methods dscn-l1" in err
    assert "python -m benchmark plot --out NEWDIR" in err


def test_figure_data_without_codes_names_the_cache_and_still_gives_fig3(
    deep_runs, tmp_path, capsys
):
    out = tmp_path / "out"
    record = next(r for r in Store(deep_runs).records() if r["seed"] == 0)
    Store(out).write_record(record)
    data = load_figure_data(figure_data_path(deep_runs, record["task_id"]))
    for name in ("codes", "codes_scale", "codes_variance_kept"):
        del data[name]
    save_figure_data(figure_data_path(out, record["task_id"]), data)
    assert main(["plot", "--out", str(out), "--kind", "fig2,fig3"]) == 1
    assert "figure data without latent codes" in capsys.readouterr().err
    assert [p.stem for p in (out / "figures").glob("*.png")] == [
        "fig3-affinity-dscn-l1-synthetic-n100-s0"
    ]


def test_plot_errors_for_no_records_and_for_kinds_with_nothing_to_draw(tmp_path, capsys):
    assert main(["plot", "--out", str(tmp_path / "empty")]) == 2
    assert "error: no records in" in capsys.readouterr().err
    out = tmp_path / "out"
    Store(out).write_record(
        {"task_id": "abc", "status": "ok", "method": "kmeans", "variant": "", "seed": 0,
         "dataset": "bbc", "n_points": 10, "params": {}, "dataset_params": {},
         "metrics": {"acc": 0.5}, "fit_time_s": 1.0, "peak_mem_mb": 100.0}
    )  # fmt: skip
    assert main(["plot", "--out", str(out), "--kind", "fig2,sensitivity"]) == 1
    err = capsys.readouterr().err
    assert "no fig2 figure: no ok record of a deep self-expressive method" in err
    assert "no sensitivity figure" in err and "--set METHOD.PARAM=V1,V2" in err
    assert main(["plot", "--out", str(out)]) == 0  # the cost figure; the rest are notes
    assert "note: no fig3 figure" in capsys.readouterr().err


def test_plot_rejects_unknown_kinds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", "--kind", "fig4"])
    assert exit_info.value.code == 2
    assert "expected comma-separated figure kinds among fig2,fig3" in capsys.readouterr().err


def test_the_cli_imports_no_plotting_library_until_plot_runs():
    code = "import sys; from benchmark.cli import build_parser; build_parser(); " + (
        "print(sorted(m for m in ('matplotlib', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
