"""Aggregation of records into the paper's Tables 1–3, with the paper's numbers beside ours.

Records → pandas → one block per (dataset, size) column group of the paper's table:
rows are methods (paper order, then other paper-kind plugins, then reference rows
under a separator), each metric cell is ``mean ± std (n=seeds)`` with the paper's value
and our difference in the next column. Missing cells are shown as such, never dropped.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
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
LOADED_NOTE = "times on a loaded machine"
NOT_IN_PAPER = "not in the paper's tables"
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
    in_paper: bool = True  # False: a dataset or size with records that no paper table has

    @property
    def title(self) -> str:
        size = "" if self.n_points is None else f", n = {self.n_points:,}"
        return f"{self.dataset}{size}" + ("" if self.in_paper else f" ({NOT_IN_PAPER})")


def _config_key(record: dict[str, Any]) -> str:
    return json.dumps([record["params"], record["dataset_params"]], sort_keys=True, default=repr)


def on_loaded_machine(record: dict[str, Any]) -> bool:
    """Whether the record's task ran on a contended machine: a 1-minute load average above
    the CPU count at its start, its end or any heartbeat in between (its times are then
    longer than on a quiet machine). Records without ``machine_load`` count as not loaded."""
    load = record.get("machine_load") or {}
    readings = [load.get(key) for key in ("start", "end", "max")]
    cpus = load.get("cpus")
    return bool(cpus) and any(value is not None and value > cpus for value in readings)


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
                "loaded": on_loaded_machine(record),
                **{m: metrics.get(m, np.nan) for m in METRICS},
            }
        )
    columns = [
        "method", "name", "dataset", "n_points", "seed", "variant",
        "status", "config", "params", "tuning", "loaded", *METRICS,
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


def _load_note(loaded: pd.Series) -> str:
    """``times on a loaded machine (k of n runs)`` when any run shared its CPUs."""
    count = int(loaded.sum())
    return f"{LOADED_NOTE} ({count} of {len(loaded)} runs)" if count else ""


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
            notes = [
                _tuning_note(cells["tuning"]),
                _status_note(cells["status"]),
                _load_note(cells["loaded"]),
            ]
            row["notes"] = "; ".join(note for note in notes if note)
            rows.append(row)
    return rows


def _block_rows(
    frame: pd.DataFrame,
    paper: pd.DataFrame,
    kinds: dict[str, str],
    show_reference: bool,
    ablation: bool,
    listed: Iterable[str] = (),
) -> pd.DataFrame:
    """Rows of one block: every method of the paper's block and of ``listed`` (even unrun),
    then the other recorded methods, then reference rows. An ablation block has one row
    per variant."""
    order = {name: i for i, name in enumerate(PAPER_METHOD_ORDER)}
    names = sorted(
        set(frame["name"]) | set(paper["method"]) | set(listed),
        key=lambda n: (order.get(n, len(order)), n),
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
    all_paper = paper_values()
    paper = all_paper[all_paper["table"] == table]
    blocks = []
    for dataset, size in _shown_by(frame, all_paper, table):
        mine = frame[frame["dataset"] == dataset]
        if size is not None:
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
    if table == 1:  # every other dataset and size with records: same columns, no paper value
        for dataset, size in _outside_paper(frame, all_paper):
            mine = frame[(frame["dataset"] == dataset) & (frame["n_points"] == size)]
            rows = _block_rows(
                mine, paper.iloc[:0], method_kinds, show_reference, False, PAPER_METHOD_ORDER
            )
            blocks.append(Block(table, dataset, size, rows, in_paper=False))
    return blocks


def _shown_by(frame: pd.DataFrame, paper: pd.DataFrame, table: int) -> list[tuple[str, int | None]]:
    """The (dataset, size) column groups of the paper's Table ``table``; a group without a
    size (20 Newsgroups: one size only) takes the largest recorded one."""
    groups = paper.loc[paper["table"] == table, ["dataset", "n_points"]].drop_duplicates()
    shown = []
    for dataset, n_points in groups.itertuples(index=False):
        size = None if np.isnan(n_points) else int(n_points)
        recorded = frame.loc[frame["dataset"] == dataset, "n_points"]
        if size is None and not recorded.empty:
            size = int(recorded.max())
        shown.append((dataset, size))
    return shown


def _outside_paper(frame: pd.DataFrame, paper: pd.DataFrame) -> list[tuple[str, int]]:
    """Recorded (dataset, size) pairs that none of the paper's tables has a column for."""
    shown = {pair for table in TABLE_TITLES for pair in _shown_by(frame, paper, table)}
    recorded = sorted(set(zip(frame["dataset"], frame["n_points"].astype(int), strict=True)))
    return [pair for pair in recorded if pair not in shown]


def shown_elsewhere(
    records: Iterable[dict[str, Any]], table: int
) -> dict[tuple[str, int], list[int]]:
    """Recorded (dataset, size) pairs that Table ``table`` does not show → the tables that
    do (Table 1 shows every dataset and size that no paper table has)."""
    frame = records_frame(records, {})
    paper = paper_values()
    shown = {t: set(_shown_by(frame, paper, t)) for t in TABLE_TITLES}
    outside = set(_outside_paper(frame, paper))
    elsewhere = {}
    for pair in sorted(set(zip(frame["dataset"], frame["n_points"].astype(int), strict=True))):
        tables = [t for t in TABLE_TITLES if pair in shown[t] or (t == 1 and pair in outside)]
        if table not in tables:
            elsewhere[pair] = tables
    return elsewhere


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


LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
    "±": r"$\pm$", "Δ": r"$\Delta$", "—": "---", "–": "--", "†": r"\dag{}", "×": r"$\times$",
    "≥": r"$\geq$", "≤": r"$\leq$", "…": r"\ldots{}", "\u00a0": "~",
}  # fmt: skip
"""Characters that LaTeX (pdflatex, no extra packages) cannot take as they are."""


def latex_text(text: str) -> str:
    """``text`` as pdflatex-safe LaTeX: specials escaped, the tables' symbols (±, Δ, —, †)
    as LaTeX commands, any other non-ASCII letter without its accents (else ``?``)."""
    out = []
    for char in str(text):
        if char in LATEX_SPECIALS:
            out.append(LATEX_SPECIALS[char])
        elif char.isascii():
            out.append(char)
        else:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(latex_text(plain) if plain else "?")
    return "".join(out)


def _latex_block(block: Block) -> str:
    """One block as a booktabs ``tabular`` under a bold title."""
    lines = [
        rf"\par\medskip\noindent\textbf{{{latex_text(block.title)}}}\par\smallskip",
        r"\begin{tabular}{l" + "ll" * len(METRICS) + "l}",
        r"\toprule",
        " & ".join(map(latex_text, _headers())) + r" \\",
        r"\midrule",
        *(" & ".join(map(latex_text, row)) + r" \\" for row in _table_rows(block)),
        r"\bottomrule",
        r"\end{tabular}",
    ]
    return "\n".join(lines)


def _legend() -> str:
    return (
        "Cells: mean ± std over seeds (n = number of seeds); paper value and our difference "
        "beside each. 'missing': no finished run. Notes: where each row's settings come from "
        "(tuning: paper, reference, transfer:<where>, label-free:<criterion>, choice, oracle; "
        "'unknown' for records made before records stated it); failed runs; "
        f"'{LOADED_NOTE}': runs whose machine had a 1-minute load average above its CPU count "
        "(fit times longer than on a quiet machine).\n\n" + ORACLE_FOOTNOTE
    )


NOT_OK_NOTE = re.compile(r"\b\d+ (failed|timeout|diverged)\b")
"""A row note that counts runs that did not succeed (see ``_status_note``)."""


def _element(tag: str, inner_html: str, classes: list[str]) -> str:
    attribute = f' class="{" ".join(classes)}"' if classes else ""
    return f"<{tag}{attribute}>{inner_html}</{tag}>"


def _cell_classes(text: str, paper_column: bool) -> list[str]:
    """CSS classes of a metric cell: ``paper`` (the paper's column), ``missing`` (no
    finished run), ``no-paper`` (the paper has no value), ``oracle`` (oracle-tuned)."""
    classes = ["paper"] if paper_column else []
    if text == MISSING:
        classes.append("missing")
    elif text == "—":
        classes.append("no-paper")
    if ORACLE_MARK in text:
        classes.append("oracle")
    return classes


def html_block(block: Block) -> str:
    """One block as an HTML ``<table>`` (all text escaped), with the same rows and cells
    as the other formats; a row whose runs did not all succeed has class ``not-ok``, one
    timed on a loaded machine class ``loaded``, the reference separator ``separator``."""
    headers = _headers()
    paper_column = [header.startswith("paper") for header in headers]
    head = "".join(
        _element("th", html.escape(header), ["paper"] if paper else [])
        for header, paper in zip(headers, paper_column, strict=True)
    )
    body = []
    for row in _table_rows(block):
        if not any(row[1:]):
            cell = f'<td colspan="{len(headers)}">{html.escape(row[0])}</td>'
            body.append(_element("tr", cell, ["separator"]))
            continue
        notes = row[-1]
        classes = ["not-ok"] if NOT_OK_NOTE.search(notes) else []
        classes += ["loaded"] if LOADED_NOTE in notes else []
        cells = _element("th", html.escape(row[0]), []) + "".join(
            _element("td", html.escape(text), _cell_classes(text, paper))
            for text, paper in zip(row[1:], paper_column[1:], strict=True)
        )
        body.append(_element("tr", cells, classes))
    rows = "\n".join(body)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


def render(blocks: list[Block], fmt: str = "md") -> str:
    """Blocks as Markdown (tabulate), LaTeX (a fragment for pdflatex; needs
    ``\\usepackage{booktabs}``), CSV text or HTML (a fragment: headings, tables, legend)."""
    if not blocks:
        return "(no blocks)"
    table = blocks[0].table
    if fmt == "html":
        parts = [f"<h2>{html.escape(TABLE_TITLES[table])}</h2>"]
        for block in blocks:
            parts += [f"<h3>{html.escape(block.title)}</h3>", html_block(block)]
        parts += [f"<p>{html.escape(p)}</p>" for p in _legend().split("\n\n")]
        return "\n".join(parts) + "\n"
    if fmt == "csv":
        frames = []
        for block in blocks:
            frame = block.rows.copy()
            frame.insert(0, "n_points", block.n_points)
            frame.insert(0, "dataset", block.dataset)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True).to_csv(index=False)
    if fmt == "latex":
        parts = [
            f"% {latex_text(TABLE_TITLES[table])}; needs \\usepackage{{booktabs}}",
            *map(_latex_block, blocks),
            *(latex_text(paragraph) for paragraph in _legend().split("\n\n")),
        ]
        return "\n\n".join(parts) + "\n"
    if fmt != "md":
        raise ValueError(f"unknown format {fmt!r}; use md, latex, csv or html")
    parts = [f"# {TABLE_TITLES[table]}"]
    for block in blocks:
        parts += [
            f"## {block.title}",
            tabulate(
                _table_rows(block), headers=_headers(), tablefmt="github", disable_numparse=True
            ),
        ]
    parts.append(_legend())
    return "\n\n".join(parts) + "\n"
