"""The static HTML report of an output folder (``python -m benchmark report``).

One page, ``index.html``, that opens offline: what it covers (folder, records, dates, code
versions, machines), Tables 1–3 beside the paper's numbers (rendered by
:mod:`benchmark.tables`, markers and legend included), the cost of each cell (fit time,
peak memory), how many records a rerun has reproduced under the report's code (the
``verify`` ledger), every figure under ``OUT/figures/`` (copied beside the page) and the
tasks that did not succeed with their reasons. Plain HTML and inline CSS; all text is
escaped.
"""

from __future__ import annotations

import html
import shutil
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean, stdev
from typing import Any

from benchmark import verify_ledger
from benchmark.provenance import git_commit
from benchmark.runner import NOT_OK, failure_reason
from benchmark.store import Store
from benchmark.tables import (
    LOADED_NOTE,
    MISSING,
    ORACLE_MARK,
    TABLE_TITLES,
    build_blocks,
    on_loaded_machine,
    render,
)

PAGE = "index.html"
FIGURES = "figures"
PLOT_COMMAND = "python -m benchmark plot --out {out}"
VERIFY_COMMAND = "python -m benchmark verify --out {out} --unverified"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 90em;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
table { border-collapse: collapse; font-size: .85em; margin-bottom: 1em; }
th, td { border: 1px solid #ddd; padding: .2em .5em; text-align: left; vertical-align: top;
         white-space: nowrap; }
td:last-child { white-space: normal; min-width: 14em; }
thead th { background: #f0f0f0; }
td.paper, th.paper { background: #f7f7fb; color: #444; }
.missing { color: #999; font-style: italic; }
.no-paper { color: #aaa; }
.oracle { background: #fff3cd; }
tr.loaded td:last-child { background: #e7f1ff; }
tr.not-ok > th:first-child { border-left: 4px solid #c0392b; }
tr.separator td { background: #eee; font-style: italic; text-align: center; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.summary dt { font-weight: bold; }
dl.summary dd { margin: 0; }
ul.legend li { margin: .2em 0; }
.swatch { display: inline-block; padding: 0 .4em; border: 1px solid #ddd; }
figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
figure img { max-width: 38em; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; }
pre { white-space: pre-wrap; margin: 0; font-size: 1.1em; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


class NoRecordsError(ValueError):
    """The output folder holds no records to report on."""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    """An HTML table of already-escaped cells; ``classes`` gives each row's class."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for cells, row_class in zip(rows, classes or [""] * len(rows), strict=True):
        attribute = f' class="{row_class}"' if row_class else ""
        body.append(f"<tr{attribute}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    rows_html = "\n".join(body)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows_html}\n</tbody>\n</table>"


def _counts(values: Iterable[Any]) -> str:
    return ", ".join(f"{count} {value}" for value, count in Counter(values).most_common())


def _summary(out_dir: Path, records: list[dict[str, Any]], verified: str) -> str:
    """What the report covers: folder, records by status, dates, code versions, and
    ``verified``, the reproduction count of :func:`_verification`."""
    started = sorted(r["started_at"] for r in records if r.get("started_at"))
    finished = sorted(r["finished_at"] for r in records if r.get("finished_at"))
    span = f"{started[0]} to {finished[-1]}" if started and finished else "not recorded"
    commits = [(r.get("provenance") or {}).get("git_commit") or "unknown" for r in records]
    commits = [c if c == "unknown" else c[:12] + ("-dirty" if c.endswith("-dirty") else "")
               for c in commits]  # fmt: skip
    items = {
        "output folder": _e(out_dir.resolve()),
        "records": _e(f"{len(records)} ({_counts(r['status'] for r in records)})"),
        "runs made": _e(span),
        "report made": _e(datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        "code of the report": _e(git_commit() or "unknown (not a git checkout)"),
        "code of the records": _e(_counts(commits)),
        "reproduced": _e(verified),
    }
    rows = "\n".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in items.items())
    return f'<dl class="summary">\n{rows}\n</dl>'


def _machines(records: list[dict[str, Any]]) -> str:
    """One row per machine (host, device, CPUs, platform, Python, torch) with its records."""
    machines: Counter[tuple[str, ...]] = Counter()
    for record in records:
        prov = record.get("provenance") or {}
        cpus = (record.get("machine_load") or {}).get("cpus")
        machines[(
            prov.get("host") or "?", prov.get("device") or "?",
            "not recorded" if cpus is None else str(cpus), prov.get("platform") or "?",
            prov.get("python") or "?", (prov.get("packages") or {}).get("torch") or "?",
        )] += 1  # fmt: skip
    rows = [[*map(_e, key), _e(count)] for key, count in sorted(machines.items())]
    headers = ["host", "device", "CPUs", "platform", "Python", "torch", "records"]
    return _table(headers, rows)


def _legend() -> str:
    items = [
        f'<span class="swatch missing">{_e(MISSING)}</span> no finished run for this cell',
        f'<span class="swatch oracle">{_e(ORACLE_MARK)}</span> oracle-tuned: settings chosen '
        "with the evaluated data's own labels, not comparable with the other cells",
        "<span class=\"swatch paper\">paper (Δ)</span> the paper's value and our mean's "
        'difference from it; <span class="no-paper">—</span>: the paper has no value',
        '<span class="swatch" style="border-left: 4px solid #c0392b">row</span> some runs '
        "failed, timed out or diverged (counted in the notes; see Failures)",
        f'<span class="swatch" style="background: #e7f1ff">notes</span> {_e(LOADED_NOTE)}: '
        "fit times longer than on a quiet machine",
    ]
    return '<ul class="legend">' + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _mean_std(values: list[float]) -> str:
    """``mean ± std`` with two decimals (the mean alone for one value; ``missing`` for none)."""
    if not values:
        return MISSING
    return f"{mean(values):.2f}" + (f" ± {stdev(values):.2f}" if len(values) > 1 else "")


def _cost(records: list[dict[str, Any]], method_names: dict[str, str]) -> str:
    """Fit time and peak memory per (dataset, size, method, variant) over its ok runs."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for record in records:
        key = (record["dataset"], int(record["n_points"]), _method_label(record, method_names))
        groups.setdefault(key, []).append(record)
    rows, classes = [], []
    for (dataset, n_points, name), group in sorted(groups.items()):
        ok = [r for r in group if r["status"] == "ok"]
        fit = [r["fit_time_s"] for r in ok if r.get("fit_time_s") is not None]
        peak = [r["peak_mem_mb"] for r in ok if r.get("peak_mem_mb") is not None]
        loaded = sum(on_loaded_machine(r) for r in ok)
        rows.append([
            _e(dataset), _e(f"{n_points:,}"), _e(name), _e(f"{len(ok)} of {len(group)}"),
            _e(_mean_std(fit)), _e(f"{max(peak):,.0f}" if peak else MISSING),
            _e(f"{loaded} of {len(ok)}" if loaded else ""),
        ])  # fmt: skip
        classes.append("loaded" if loaded else "")
    headers = [
        "dataset", "n", "method", "ok runs", "fit time (s, mean ± std)",
        "peak memory (MB, max)", LOADED_NOTE,
    ]  # fmt: skip
    return _table(headers, rows, classes)


def _figures(out_dir: Path, to_dir: Path) -> str:
    """Every PNG under ``OUT/figures/`` (copied beside the page, with its SVG if any) as a
    figure captioned by its file stem, grouped by sub-folder."""
    source = out_dir / FIGURES
    pngs = sorted(source.rglob("*.png")) if source.is_dir() else []
    if not pngs:
        command = _e(PLOT_COMMAND.format(out=out_dir))
        return (
            f"<p>No figures in <code>{_e(source)}</code>; make them with "
            f"<code>{command}</code>, then build the report again.</p>"
        )
    target = to_dir / FIGURES
    parts, folder = [], None
    for png in pngs:
        relative = png.relative_to(source)
        if relative.parent != folder:
            folder = relative.parent
            if str(folder) != ".":
                parts.append(f"<h3>{_e(folder.as_posix())}</h3>")
        svg = png.with_suffix(".svg")
        for path in (png, svg) if svg.exists() else (png,):
            copy = target / path.relative_to(source)
            if copy.resolve() != path.resolve():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
        href = html.escape(f"{FIGURES}/{relative.as_posix()}", quote=True)
        link = f' (<a href="{href[:-4]}.svg">SVG</a>)' if svg.exists() else ""
        parts.append(
            f'<figure><img src="{href}" alt="{_e(png.stem)}">'
            f"<figcaption>{_e(png.stem)}{link}</figcaption></figure>"
        )
    return "\n".join(parts)


def _verification(
    out_dir: Path, records: list[dict[str, Any]], method_names: dict[str, str]
) -> tuple[str, str]:
    """The ok records' states in the ``verify`` ledger under the current code: a one-line
    count and the section (per-method counts, then every record not matched)."""
    ok = [r for r in records if r["status"] == "ok"]
    states = verify_ledger.record_states(
        ok, verify_ledger.read(out_dir), verify_ledger.code_digest()
    )
    rows = verify_ledger.coverage(ok, states)
    count = f"{rows[-1]['matched']} of {len(ok)} ok records matched a rerun under this code"
    command = _e(VERIFY_COMMAND.format(out=out_dir))
    note = (
        f"<p>{_e(count)} (<code>python -m benchmark verify</code> reruns a record in a fresh "
        "process and compares its ACC, NMI and ARI: exactly for a CPU record at its recorded "
        "thread count, else within a stated tolerance; each verdict goes "
        f"to <code>{_e(verify_ledger.ledger_path(out_dir))}</code>). A match stays current "
        "while the sources its rerun loaded are unchanged. Check the rest with "
        f"<code>{command}</code>.</p>"
    )
    headers = ["method", "records", *verify_ledger.STATES, "recorded hours to rerun the rest"]
    table = _table(headers, [
        [_e(method_names.get(row["method"], row["method"])), _e(row["records"]),
         *(_e(row[state]) for state in verify_ledger.STATES), _e(row["rerun_h"])]
        for row in rows
    ])  # fmt: skip
    pending = sorted(
        (r for r in ok if states[r["task_id"]] != "matched"),
        key=_cell_order,
    )
    if not pending:
        return count, note + table
    listed = _table(
        ["task", "method", "dataset", "n", "seed", "state"],
        [
            [_e(r["task_id"]), _e(_method_label(r, method_names)), _e(r["dataset"]),
             _e(r["n_points"]), _e(r["seed"]), _e(states[r["task_id"]])]
            for r in pending
        ],
    )  # fmt: skip
    return count, note + table + f"<p>Not matched under this code ({len(pending)}):</p>" + listed


def _cell_order(record: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key of a record's row in a listing: dataset, size, method, variant, seed."""
    return (record["dataset"], record["n_points"], record["method"], record.get("variant") or "",
            record["seed"])  # fmt: skip


def _method_label(record: dict[str, Any], method_names: dict[str, str]) -> str:
    """The method's display name, with ``[variant]`` for a readout variant."""
    name = method_names.get(record["method"], record["method"])
    return name + (f" [{record['variant']}]" if record.get("variant") else "")


def _failures(records: list[dict[str, Any]], method_names: dict[str, str]) -> str:
    """Tasks recorded failed, timed out or diverged, with their whole reason and log."""
    bad = sorted(
        (r for r in records if r["status"] in NOT_OK),
        key=_cell_order,
    )
    if not bad:
        return "<p>Every recorded task succeeded.</p>"
    rows = []
    for record in bad:
        rows.append([
            _e(record["task_id"]), _e(_method_label(record, method_names)),
            _e(record["dataset"]), _e(record["n_points"]),
            _e(record["seed"]), _e(record["status"]),
            f"<pre>{_e(failure_reason(record.get('error')))}</pre>",
            _e(record.get("log_path") or ""),
        ])  # fmt: skip
    headers = ["task", "method", "dataset", "n", "seed", "status", "reason", "log"]
    note = (
        f"<p>{len(bad)} task(s) did not succeed. Rerun them with <code>python -m benchmark "
        "run ... --retry-failed</code> once their cause is fixed.</p>"
    )
    return note + _table(headers, rows)


def write_report(
    out_dir: str | Path,
    to_dir: str | Path,
    method_kinds: dict[str, str],
    method_names: dict[str, str],
) -> Path:
    """Write ``to_dir/index.html`` (and copies of the figures) for the records of
    ``out_dir``; return the page's path. Raises :class:`NoRecordsError` without records."""
    out_dir, to_dir = Path(out_dir), Path(to_dir)
    store = Store(out_dir)
    records = store.records()
    if not records:
        raise NoRecordsError(
            f"no records in {store.records_dir}; run tasks first "
            f"(python -m benchmark run ... --out {out_dir}) or point --out at a folder with "
            "records (the committed campaigns: --out results)"
        )
    to_dir.mkdir(parents=True, exist_ok=True)
    tables = [
        f'<section id="table-{t}">\n'
        + render(build_blocks(records, t, method_kinds, method_names), "html")
        + "</section>"
        for t in TABLE_TITLES
    ]
    verified, verification = _verification(out_dir, records, method_names)
    contents = [("tables", "Tables 1–3"), ("cost", "Cost per cell"),
                ("verification", "Reproduction"), ("figures", "Figures"),
                ("failures", "Failures"), ("machines", "Machines")]  # fmt: skip
    nav = " · ".join(f'<a href="#{anchor}">{_e(text)}</a>' for anchor, text in contents)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>subspace-bench report: {_e(out_dir.resolve().name)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>subspace-bench report: {_e(out_dir.resolve().name)}</h1>
<p>The records of one output folder against the LRSC paper (Li et al., AAAI 2021):
Tables 1–3 beside the paper's numbers, what each cell cost, how many records a rerun
has reproduced, the figures, and every task that did not succeed. Made by
<code>python -m benchmark report</code>.</p>
{_summary(out_dir, records, verified)}
<nav><p>{nav}</p></nav>
<section id="tables">
<h2>Tables 1–3</h2>
<p>Markers:</p>
{_legend()}
</section>
{"".join(tables)}
<section id="cost">
<h2>Cost per cell</h2>
<p>Over each cell's ok runs: fit time of the method and the task's peak memory.</p>
{_cost(records, method_names)}
</section>
<section id="verification">
<h2>Reproduction</h2>
{verification}
</section>
<section id="figures">
<h2>Figures</h2>
{_figures(out_dir, to_dir)}
</section>
<section id="failures">
<h2>Failures</h2>
{_failures(records, method_names)}
</section>
<section id="machines">
<h2>Machines</h2>
<p>Where the records were computed (from each record's provenance).</p>
{_machines(records)}
</section>
</body>
</html>
"""
    path = to_dir / PAGE
    path.write_text(page, encoding="utf-8")
    return path
