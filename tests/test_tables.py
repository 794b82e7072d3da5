"""The aggregator: records → Tables 1–3 beside the paper's numbers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from benchmark.cli import main
from benchmark.store import Store
from benchmark.tables import build_blocks, latex_text, paper_values, render

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
    plus_minus = r"$\pm$" if fmt == "latex" else "±"
    assert "0.410" in text and f"0.805 {plus_minus} 0.007" in text
    target = tmp_path / f"t1.{fmt}"
    assert main(["table", "--out", str(tmp_path), "--format", fmt, "--save", str(target)]) == 0
    assert "0.410" in target.read_text()


def test_datasets_and_sizes_outside_the_paper_get_their_own_table1_blocks():
    records = [
        record("ssc", "mydata", 300, 0, 0.7),
        record("kmeans", "mydata", 300, 0, 0.6),
        record("ssc", "synthetic", 300, 0, 0.9),
        record("ssc", "fashion-mnist", 2000, 0, 0.5),  # a size no paper table has
        record("ssc", "fashion-mnist", 1000, 0, 0.5),  # Table 2's
    ]
    blocks = build_blocks(records, 1, KINDS, NAMES)
    extra = [(b.dataset, b.n_points) for b in blocks if not b.in_paper]
    assert extra == [("fashion-mnist", 2000), ("mydata", 300), ("synthetic", 300)]
    mine = block(blocks, "mydata", 300)
    rows = mine.rows.set_index("row")
    assert rows.loc["SSC", "acc"] == "0.700 ± 0.000 (n=1)" and rows.loc["SSC", "acc_paper"] == "—"
    assert rows.loc["LRSC-L2", "acc"] == "missing"  # the paper's methods are all listed
    assert rows.loc["k-means", "section"] == "reference"  # reference rows included
    assert "mydata, n = 300 (not in the paper's tables)" in render(blocks, "md")
    assert all(b.in_paper for b in build_blocks(records, 2, KINDS, NAMES))


def test_table_says_which_table_shows_the_records_it_hides(tmp_path, capsys):
    store = Store(tmp_path)
    store.write_record(record("ssc", "fashion-mnist", 1000, 0, 0.5))
    store.write_record(record("ssc", "mydata", 300, 0, 0.5))
    assert main(["table", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "Table 1 does not show the records of fashion-mnist at n = 1,000; --table 2 does" in err
    assert "mydata" not in err  # Table 1 has a block for it
    assert main(["table", "--out", str(tmp_path), "--table", "2"]) == 0
    err = capsys.readouterr().err
    assert "records of mydata at n = 300; --table 1 does" in err
    assert "fashion-mnist" not in err


def latex_of_every_symbol() -> str:
    """Table 1 in LaTeX with ±, Δ, —, †, underscores, a reference separator and odd names."""
    records = [
        record("ssc", "bbc", 2225, 0, 0.8, params={"max_iter": 5}, tuning="oracle"),
        record("ssc", "bbc", 2225, 1, 0.9, params={"max_iter": 9}, tuning="transfer:a_b"),
        record("kmeans", "bbc", 2225, 0, 0.5, status="failed"),
        record("odd", "my_data", 300, 0, 0.5),
    ]
    names = {**NAMES, "odd": "Odd & 50% #1 {x} ~ ^ \\ <é>"}
    return render(build_blocks(records, 1, {**KINDS, "odd": "paper"}, names), "latex")


def test_latex_has_no_raw_special_or_non_ascii_character():
    text = latex_of_every_symbol()
    assert text.isascii()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    cells = re.sub(r"\$\\(pm|Delta)\$", "", body).replace(" & ", " ")  # math, column breaks
    assert not re.search(r"(?<!\\)[_&%#$^~<>]", cells)  # every other special is escaped
    assert r"Odd \& 50\% \#1 \{x\} \textasciitilde{} \textasciicircum{}" in text
    for expected in (r"$\pm$", r"paper ($\Delta$)", "---", r"\dag{}", r"max\_iter", r"my\_data"):
        assert expected in text
    assert latex_text("Odd & 50% {é} ~") == r"Odd \& 50\% \{e\} \textasciitilde{}"


def test_latex_compiles_with_pdflatex(tmp_path):
    if shutil.which("pdflatex") is None:
        reason = "pdflatex is not installed (apt-get install texlive-latex-recommended)"
        if os.environ.get("SUBSPACE_BENCH_REQUIRE_LATEX") == "1":
            pytest.fail(f"{reason}; SUBSPACE_BENCH_REQUIRE_LATEX=1 requires it")
        pytest.skip(reason)
    document = (
        "\\documentclass{article}\\usepackage{booktabs}\\usepackage[margin=1cm,"
        "landscape]{geometry}\\begin{document}\n" + latex_of_every_symbol() + "\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(document)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 0


def test_rows_measured_on_a_loaded_machine_say_so():
    quiet = {"start": 0.5, "end": 1.0, "max": 1.0, "cpus": 2}
    busy = {"start": 1.0, "end": 1.5, "max": 3.5, "cpus": 2}  # above 2 CPUs mid-run
    records = [
        {**record("ssc", "bbc", 2225, 0, 0.8), "machine_load": quiet},
        {**record("ssc", "bbc", 2225, 1, 0.8), "machine_load": busy},
        {**record("kmeans", "bbc", 2225, 0, 0.5), "machine_load": quiet},
        record("dscn-l1", "bbc", 2225, 0, 0.5),  # an older record without the field
    ]
    blocks = build_blocks(records, 1, KINDS, NAMES)
    rows = block(blocks, "bbc").rows.set_index("row")
    assert rows.loc["SSC", "notes"] == "tuning: unknown; times on a loaded machine (1 of 2 runs)"
    assert "loaded" not in rows.loc["k-means", "notes"]
    assert "loaded" not in rows.loc["DSCN-L1", "notes"]
    assert "'times on a loaded machine': runs whose machine" in render(blocks, "md")
