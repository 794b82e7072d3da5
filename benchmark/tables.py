"""Aggregation of records into the paper's Tables 1–3, with the paper's numbers beside ours.

Records → pandas → one block per (dataset, size) column group of the paper's table:
rows are methods (paper order, then other paper-kind plugins, then reference rows
under a separator), each metric cell is ``mean ± std (n=seeds)`` with the paper's value
and our difference in the next column. Missing cells are shown as such, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark.plugins import tuning_level

METRICS = ("acc", "nmi", "ari")
PAPER_METHOD_ORDER = (
    "SSC", "EnSC", "SSC-OMP", "LRR", "ClusterGAN", "DSCN-L1", "DSCN-L2",
    "DASC", "DPSC", "LRSC-L1", "LRSC-L2",
)  # fmt: skip
TABLE_TITLES = {
    1: "Table 1: clustering results on the four datasets",
    2: "Table 2: Fashion-MNIST and notMNIST with different numbers of data points",
    3: "Table 3: ablation of LRSC-L2 (meta-learning components)",
}
ABLATION_ROWS = {
    "ablation-none": "none",
    "ablation-task": "task",
    "ablation-task+model": "task+model",
    "": "task+model+self",
}
"""Table 3: ``lrsc-l2``'s variants → the paper's rows (which transfers are switched on)."""
MISSING = "missing"
ORACLE_MARK = "†"
ORACLE_FOOTNOTE = (
    f"{ORACLE_MARK} oracle: settings chosen with the evaluated data's own labels "
    "(PROTOCOL.md), not comparable with the other cells."
)


def paper_values() -> pd.DataFrame:
    """The paper's Tables 1–3 in tidy form (the project's own copy of the numbers)."""
    path = resources.files("benchmark") / "paper" / "paper_tables.csv"
    with resources.as_file(path) as csv_path:
        frame = pd.read_csv(csv_path, dtype={"variant": str}, keep_default_na=False)
    frame["n_points"] = pd.to_numeric(frame["n_points"], errors="coerce")
    frame["metric"] = frame["metric"].str.lower()
    return frame


@dataclass(frozen=True)
class Block:
    """One column group of a table: a dataset at a size, with its rows."""

    table: int
    dataset: str
    n_points: int | None
    rows: pd.DataFrame  # columns: row, section, acc, acc_paper, ..., one row per method row

    @property
    def title(self) -> str:
        size = "" if self.n_points is None else f", n = {self.n_points:,}"
        return f"{self.dataset}{size}"


def _config_key(record: dict[str, Any]) -> str:
    return json.dumps([record["params"], record["dataset_params"]], sort_keys=True, default=repr)


def records_frame(records: Iterable[dict[str, Any]], method_names: dict[str, str]) -> pd.DataFrame:
    """One row per record with the columns the tables need."""
    rows = []
    for record in records:
        metrics = record.get("metrics") or {}
        rows.append(
            {
                "method": record["method"],
                "name": method_names.get(record["method"], record["method"]),
                "dataset": record["dataset"],
                "n_points": int(record["n_points"]),
                "seed": record["seed"],
                "variant": record.get("variant") or "",
                "status": record["status"],
                "config": _config_key(record),
                "params": record["params"],
                "tuning": record.get("tuning") or "unknown",
                **{m: metrics.get(m, np.nan) for m in METRICS},
            }
        )
    columns = [
        "method", "name", "dataset", "n_points", "seed", "variant",
        "status", "config", "params", "tuning", *METRICS,
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _row_labels(group: pd.DataFrame) -> dict[str, str]:
    """Label each config of one method/variant; several configs get their differing params."""
    configs = group.drop_duplicates("config")
    if len(configs) == 1:
        return {configs["config"].iloc[0]: ""}
    params = list(configs["params"])
    varying = sorted(k for k in params[0] if len({repr(p.get(k)) for p in params}) > 1)
    return {
        row.config: " [" + ", ".join(f"{k}={row.params.get(k)!r}" for k in varying) + "]"
        for row in configs.itertuples()
    }


def _cell(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return MISSING
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.3f} ± {std:.3f} (n={len(values)})"


def _paper_cell(ours: pd.Series, paper: float | None) -> str:
    if paper is None or np.isnan(paper):
        return "—"
    ours = ours.dropna()
    if ours.empty:
        return f"{paper:.3f}"
    return f"{paper:.3f} ({ours.mean() - paper:+.3f})"


def _status_note(statuses: pd.Series) -> str:
    bad = statuses[statuses != "ok"].value_counts()
    return ", ".join(f"{count} {status}" for status, count in bad.items())


def _tuning_note(tunings: pd.Series) -> str:
    """The row's tuning marker(s), e.g. ``tuning: transfer:20newsgroups-meta``."""
    values = sorted(set(tunings))
    return f"tuning: {' | '.join(values)}" if values else ""


def _method_rows(
    name: str, kind: str, mine: pd.DataFrame, paper: pd.DataFrame, variants: list[str]
) -> list[dict[str, Any]]:
    """Rows of one method: one per variant (and per config when a grid was run)."""
    rows = []
    for variant in variants:
        group = mine[mine["variant"] == variant]
        paper_rows = paper[paper["variant"] == variant]
        if paper_rows.empty:  # e.g. our "post" variant beside the paper's single number
            paper_rows = paper[paper["variant"] == ""]
        reference = dict(zip(paper_rows["metric"], paper_rows["value"], strict=True))
        labels = _row_labels(group) if not group.empty else {None: ""}
        for config, suffix in labels.items():
            cells = group if config is None else group[group["config"] == config]
            ok = cells[cells["status"] == "ok"]
            oracle = any(tuning_level(t) == "oracle" for t in cells["tuning"])
            mark = f" {ORACLE_MARK}" if oracle else ""
            row: dict[str, Any] = {
                "row": name + (f" [{variant}]" if variant else "") + suffix,
                "section": "reference" if kind == "reference" else "paper",
            }
            for metric in METRICS:
                cell = _cell(ok[metric])
                row[metric] = cell + (mark if cell != MISSING else "")
                row[f"{metric}_paper"] = _paper_cell(ok[metric], reference.get(metric))
            notes = [_tuning_note(cells["tuning"]), _status_note(cells["status"])]
            row["notes"] = "; ".join(note for note in notes if note)
            rows.append(row)
    return rows


def _block_rows(
    frame: pd.DataFrame,
    paper: pd.DataFrame,
    kinds: dict[str, str],
    show_reference: bool,
    ablation: bool,
) -> pd.DataFrame:
    """Rows of one block: every method of the paper's block (even unrun), then the other
    recorded methods, then reference rows. An ablation block has one row per variant."""
    order = {name: i for i, name in enumerate(PAPER_METHOD_ORDER)}
    names = sorted(
        set(frame["name"]) | set(paper["method"]), key=lambda n: (order.get(n, len(order)), n)
    )
    kind_of = dict(zip(frame["name"], frame["method"].map(kinds), strict=True))
    rows: list[dict[str, Any]] = []
    for name in names:
        kind = kind_of.get(name) or "paper"
        if kind == "reference" and not show_reference:
            continue
        mine = frame[frame["name"] == name]
        method_paper = paper[paper["method"] == name]
        variants = set(mine["variant"])
        if ablation:
            variants |= set(method_paper["variant"])
        rows += _method_rows(name, kind, mine, method_paper, sorted(variants) or [""])
    rows.sort(key=lambda r: r["section"] == "reference")
    return pd.DataFrame(rows)


def build_blocks(
    records: Iterable[dict[str, Any]],
    table: int,
    method_kinds: dict[str, str],
    method_names: dict[str, str],
    show_reference: bool = True,
) -> list[Block]:
    """The blocks of Table ``table`` (1, 2 or 3) from records and the paper's numbers."""
    if table not in TABLE_TITLES:
        raise ValueError(f"--table must be 1, 2 or 3, got {table}")
    frame = records_frame(records, method_names)
    paper = paper_values()
    paper = paper[paper["table"] == table]
    blocks = []
    groups = paper[["dataset", "n_points"]].drop_duplicates()
    for dataset, n_points in groups.itertuples(index=False):
        size = None if np.isnan(n_points) else int(n_points)
        mine = frame[frame["dataset"] == dataset]
        if size is not None:
            mine = mine[mine["n_points"] == size]
        elif not mine.empty:  # one size only (20 Newsgroups): keep the largest recorded
            size = int(mine["n_points"].max())
            mine = mine[mine["n_points"] == size]
        if table == 3:
            mine = mine[(mine["method"] == "lrsc-l2") & mine["variant"].isin(ABLATION_ROWS)]
            mine = mine.assign(variant=mine["variant"].map(ABLATION_ROWS))
        block_paper = paper[paper["dataset"] == dataset]
        if size is not None and not block_paper["n_points"].isna().all():
            block_paper = block_paper[block_paper["n_points"] == size]
        rows = _block_rows(
            mine, block_paper, method_kinds, show_reference and table != 3, ablation=table == 3
        )
        blocks.append(Block(table, dataset, size, rows))
    return blocks


def _headers() -> list[str]:
    headers = ["Method"]
    for metric in METRICS:
        headers += [metric.upper(), "paper (Δ)"]
    return [*headers, "notes"]


def _table_rows(block: Block) -> list[list[str]]:
    out: list[list[str]] = []
    previous_section = "paper"
    for row in block.rows.to_dict("records"):
        if row["section"] != previous_section:
            out.append(["— reference rows (not in the paper) —", *[""] * 7])
            previous_section = row["section"]
        cells = [row["row"]]
        for metric in METRICS:
            cells += [row[metric], row[f"{metric}_paper"]]
        out.append([*cells, row["notes"]])
    return out


def render(blocks: list[Block], fmt: str = "md") -> str:
    """Blocks as Markdown (tabulate), LaTeX or CSV text."""
    if not blocks:
        return "(no blocks)"
    table = blocks[0].table
    if fmt == "csv":
        frames = []
        for block in blocks:
            frame = block.rows.copy()
            frame.insert(0, "n_points", block.n_points)
            frame.insert(0, "dataset", block.dataset)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True).to_csv(index=False)
    if fmt not in ("md", "latex"):
        raise ValueError(f"unknown format {fmt!r}; use md, latex or csv")
    tablefmt = "github" if fmt == "md" else "latex_booktabs"
    parts = [f"# {TABLE_TITLES[table]}" if fmt == "md" else f"% {TABLE_TITLES[table]}"]
    for block in blocks:
        heading = f"## {block.title}" if fmt == "md" else f"% {block.title}"
        parts += [
            heading,
            tabulate(
                _table_rows(block), headers=_headers(), tablefmt=tablefmt, disable_numparse=True
            ),
        ]
    parts.append(
        "Cells: mean ± std over seeds (n = number of seeds); paper value and our difference "
        "beside each. 'missing': no finished run. Notes: where each row's settings come from "
        "(tuning: paper, reference, transfer:<where>, label-free:<criterion>, choice, oracle; "
        "'unknown' for records made before records stated it).\n\n" + ORACLE_FOOTNOTE
    )
    return "\n\n".join(parts) + "\n"
