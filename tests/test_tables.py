"""The aggregator: records → Tables 1–3 beside the paper's numbers."""

from __future__ import annotations

import pytest

from benchmark.cli import main
from benchmark.store import Store
from benchmark.tables import build_blocks, paper_values, render

KINDS = {"ssc": "paper", "dscn-l1": "paper", "kmeans": "reference", "lrsc-l2": "paper"}
NAMES = {"ssc": "SSC", "dscn-l1": "DSCN-L1", "kmeans": "k-means", "lrsc-l2": "LRSC-L2"}


def record(method, dataset, n, seed, acc, status="ok", variant="", params=None, tuning=None):
    data = {
        "task_id": f"{method}-{dataset}-{n}-{seed}-{variant}-{status}-{params}",
        "method": method, "dataset": dataset, "n_points": n, "seed": seed,
        "variant": variant, "status": status, "params": params or {}, "dataset_params": {},
        "metrics": {"acc": acc, "nmi": acc - 0.1, "ari": acc - 0.2} if status == "ok" else None,
    }  # fmt: skip
    if tuning is not None:
        data["tuning"] = tuning
    return data


def block(blocks, dataset, n=None):
    return next(b for b in blocks if b.dataset == dataset and (n is None or b.n_points == n))


def test_paper_copy_has_every_number_of_the_three_tables():
    paper = paper_values()
    assert len(paper) == 354
    ssc = paper[(paper.table == 1) & (paper.dataset == "bbc") & (paper.method == "SSC")]
    assert dict(zip(ssc.metric, ssc.value, strict=True)) == {
        "acc": 0.410,
        "nmi": 0.201,
        "ari": 0.144,
    }


def test_table1_cells_have_mean_std_seeds_and_paper_difference():
    records = [record("ssc", "bbc", 2225, s, a) for s, a in enumerate([0.80, 0.82, 0.84])]
    rows = block(build_blocks(records, 1, KINDS, NAMES), "bbc").rows.set_index("row")
    assert rows.loc["SSC", "acc"] == "0.820 ± 0.020 (n=3)"
    assert rows.loc["SSC", "acc_paper"] == "0.410 (+0.410)"
    # every paper method has a row, unrun ones say so
    assert rows.loc["LRSC-L2", "acc"] == "missing" and rows.loc["LRSC-L2", "acc_paper"] == "0.929"


def test_failed_runs_are_counted_not_dropped():
    records = [record("ssc", "bbc", 2225, 0, 0.8), record("ssc", "bbc", 2225, 1, 0, "timeout")]
    rows = block(build_blocks(records, 1, KINDS, NAMES), "bbc").rows.set_index("row")
    assert (
        rows.loc["SSC", "acc"] == "0.800 ± 0.000 (n=1)"
        and rows.loc["SSC", "notes"] == "tuning: unknown; 1 timeout"
    )


def test_rows_state_their_tuning_and_oracle_cells_are_marked():
    records = [
        record("ssc", "bbc", 2225, 0, 0.8, params={"alpha": 20}, tuning="paper"),
        record("ssc", "bbc", 2225, 1, 0.9, params={"alpha": 20}, tuning="paper"),
        record("ssc", "bbc", 2225, 0, 0.95, params={"alpha": 50}, tuning="oracle"),
        record("kmeans", "bbc", 2225, 0, 0.5, tuning="transfer:20newsgroups-meta"),
    ]
    blocks = build_blocks(records, 1, KINDS, NAMES)
    rows = block(blocks, "bbc").rows.set_index("row")
    assert rows.loc["SSC [alpha=20]", "notes"] == "tuning: paper"
    assert "†" not in rows.loc["SSC [alpha=20]", "acc"]
    oracle = rows.loc["SSC [alpha=50]"]
    assert oracle["notes"] == "tuning: oracle"
    assert all(oracle[m].endswith(" †") for m in ("acc", "nmi", "ari"))
    assert rows.loc["k-means", "notes"] == "tuning: transfer:20newsgroups-meta"
    assert rows.loc["LRSC-L2", "acc"] == "missing"  # no mark on a cell without runs
    text = render(blocks, "md")
    assert "0.950 ± 0.000 (n=1) †" in text and "† oracle:" in text


def test_variants_grids_and_reference_rows():
    records = [
        record("dscn-l1", "notmnist", 1000, 0, 0.5),
        record("dscn-l1", "notmnist", 1000, 0, 0.6, variant="post"),
        record("ssc", "notmnist", 1000, 0, 0.3, params={"alpha": 20}),
        record("ssc", "notmnist", 1000, 0, 0.4, params={"alpha": 50}),
        record("kmeans", "notmnist", 1000, 0, 0.45),
    ]
    blocks = build_blocks(records, 2, KINDS, NAMES)
    rows = block(blocks, "notmnist", 1000).rows
    labels = list(rows["row"])
    assert {"DSCN-L1", "DSCN-L1 [post]", "SSC [alpha=20]", "SSC [alpha=50]"} <= set(labels)
    assert labels[-1] == "k-means" and rows.iloc[-1]["section"] == "reference"
    assert rows.set_index("row").loc["DSCN-L1 [post]", "acc_paper"] == "0.488 (+0.112)"
    text = render(blocks, "md")
    assert "reference rows" in text and "notmnist, n = 1,000" in text
    hidden = build_blocks(records, 2, KINDS, NAMES, show_reference=False)
    assert "k-means" not in set(block(hidden, "notmnist", 1000).rows["row"])


def test_table3_has_one_row_per_ablation_variant():
    records = [
        record("lrsc-l2", "bbc", 2225, 0, 0.9, variant="ablation-task"),
        record("lrsc-l2", "bbc", 2225, 0, 0.95, variant=""),  # the full model
        record("lrsc-l2", "bbc", 2225, 0, 0.5, variant="post"),  # not a Table 3 row
    ]
    rows = block(build_blocks(records, 3, KINDS, NAMES), "bbc").rows.set_index("row")
    assert list(rows.index) == [
        "LRSC-L2 [none]",
        "LRSC-L2 [task]",
        "LRSC-L2 [task+model]",
        "LRSC-L2 [task+model+self]",
    ]
    assert rows.loc["LRSC-L2 [task]", "acc_paper"] == "0.918 (-0.018)"
    assert rows.loc["LRSC-L2 [task+model+self]", "acc_paper"] == "0.929 (+0.021)"


@pytest.mark.parametrize("fmt", ["md", "latex", "csv"])
def test_table_command_renders_and_saves(tmp_path, fmt, capsys):
    store = Store(tmp_path)
    for seed in range(2):
        store.write_record(record("ssc", "bbc", 2225, seed, 0.8 + seed / 100))
    assert main(["table", "--out", str(tmp_path), "--format", fmt]) == 0
    text = capsys.readouterr().out
    assert "0.410" in text and "0.805 ± 0.007" in text
    target = tmp_path / f"t1.{fmt}"
    assert main(["table", "--out", str(tmp_path), "--format", fmt, "--save", str(target)]) == 0
    assert "0.410" in target.read_text()
