"""Summaries of a parameter search: which setting scored best on the tuning data.

A search is an ordinary sweep (``run`` with ``--set`` grids) on data that the protocol
allows labels on (../shared/PROTOCOL.md: tuning samples, meta data), written to its own
output folder. :func:`search_summary` groups its records by method, readout variant,
dataset configuration and the parameters that vary, and averages each metric over the
seeds; :func:`best_settings` names the setting with the highest mean ACC per group.
The choice and its table go into the method's ``Param`` sources (``transfer:<where>:``).

Settings meant for data nobody has tuned on (a method's ``"*"`` defaults) are chosen
across several datasets and checked on one the choice did not see:
:func:`across_datasets` ranks each setting by its mean ACC over the search datasets and
reports where the chosen one lands on the held-out dataset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

METRIC = "acc"


def _varying(records: Sequence[dict[str, Any]], field: str) -> list[str]:
    """Names of the ``field`` entries (params or dataset_params) that differ across records."""
    values: dict[str, set[str]] = {}
    for record in records:
        for name, value in record[field].items():
            values.setdefault(name, set()).add(json.dumps(value, sort_keys=True, default=repr))
    return sorted(name for name, seen in values.items() if len(seen) > 1)


def search_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per ``ok`` record: method, variant, dataset, size, seed, the varying
    parameters (``p.NAME`` for the method, ``d.NAME`` for the dataset) and the metrics."""
    ok = [r for r in records if r.get("status") == "ok"]
    rows = []
    for method in sorted({r["method"] for r in ok}):
        mine = [r for r in ok if r["method"] == method]
        method_params = _varying(mine, "params")
        data_params = _varying(mine, "dataset_params")
        for record in mine:
            row = {
                "method": method,
                "variant": record["variant"],
                "dataset": record["dataset"],
                "n_points": record["n_points"],
                "seed": record["seed"],
                **{f"p.{n}": _plain(record["params"].get(n)) for n in method_params},
                **{f"d.{n}": _plain(record["dataset_params"].get(n)) for n in data_params},
                **(record.get("metrics") or {}),
                "fit_time_s": record.get("fit_time_s"),
            }
            rows.append(row)
    return pd.DataFrame(rows)


def _plain(value: Any) -> Any:
    return json.dumps(value, default=repr) if isinstance(value, list | tuple | dict) else value


def search_summary(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Mean and std of each metric over seeds, one row per setting."""
    frame = search_frame(records)
    if frame.empty:
        return frame
    keys = [c for c in frame.columns if c in ("method", "variant", "dataset", "n_points")]
    keys += sorted(c for c in frame.columns if c.startswith(("p.", "d.")))
    metrics = [c for c in ("acc", "nmi", "ari") if c in frame.columns]
    missing = [k for k in keys if frame[k].isna().any()]  # a parameter some methods lack
    filled = frame.astype(dict.fromkeys(missing, object)).fillna(dict.fromkeys(missing, ""))
    grouped = filled.groupby(keys, dropna=False)
    summary = grouped[metrics].agg(["mean", "std"])
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    summary["seeds"] = grouped.size()
    summary["fit_time_s"] = grouped["fit_time_s"].mean()
    return summary.reset_index()


def best_settings(summary: pd.DataFrame, within: Sequence[str]) -> pd.DataFrame:
    """The row of highest mean ACC in each group of ``within`` columns (ties: first)."""
    if summary.empty:
        return summary
    best = summary.loc[summary.groupby(list(within), dropna=False)[f"{METRIC}_mean"].idxmax()]
    return best.reset_index(drop=True)


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a markdown table (means ± std, 3 decimals)."""
    if summary.empty:
        return "(no finished records)"
    shown = summary.copy()
    for metric in ("acc", "nmi", "ari"):
        if f"{metric}_mean" in shown:
            shown[metric] = [
                f"{m:.3f} ± {0.0 if pd.isna(s) else s:.3f}"
                for m, s in zip(shown[f"{metric}_mean"], shown[f"{metric}_std"], strict=True)
            ]
            shown = shown.drop(columns=[f"{metric}_mean", f"{metric}_std"])
    shown["fit_time_s"] = shown["fit_time_s"].map(lambda t: f"{t:.0f}")
    return shown.to_markdown(index=False)


def search_report(records: Iterable[dict[str, Any]]) -> str:
    """Markdown: for each method and readout, every setting's mean ± std over seeds, then
    the best setting per dataset configuration (highest mean ACC)."""
    summary = search_summary(records)
    if summary.empty:
        return "(no finished records)"
    within = [c for c in summary.columns if c in ("method", "variant", "dataset", "n_points")]
    within += [c for c in summary.columns if c.startswith("d.")]
    best = best_settings(summary, within)
    return (
        "## Every setting (mean ± std over seeds)\n\n"
        + format_summary(summary)
        + "\n\n## Best mean ACC per method, readout and dataset configuration\n\n"
        + format_summary(best)
        + "\n"
    )


def _data_label(row: pd.Series, data_columns: Sequence[str]) -> str:
    extra = ", ".join(f"{c[2:]}={row[c]}" for c in data_columns if row[c] != "")
    return f"{row['dataset']} (n={row['n_points']}{', ' + extra if extra else ''})"


def across_datasets(summary: pd.DataFrame, held_out: str) -> pd.DataFrame:
    """Per method, readout and setting: mean ACC on each dataset, their mean over the
    datasets other than ``held_out`` (the choice's score), and the held-out ACC.

    Rows sorted best first within each method and readout; ``chosen`` marks the setting
    of highest score, ``held_out_rank`` its place among the settings on the held-out
    dataset (1 = the setting the held-out labels would have picked). A setting missing
    on some search dataset gets no score.
    """
    if summary.empty:
        return summary
    data_columns = [c for c in summary.columns if c.startswith("d.")]
    if held_out not in set(summary["dataset"]):
        known = sorted(set(summary["dataset"]))
        raise ValueError(f"held-out dataset {held_out!r} is not in the search; it has {known}")
    frame = summary.copy()
    frame["data"] = [_data_label(row, data_columns) for _, row in frame.iterrows()]
    blocks = [
        _ranked_settings(mine, held_out)
        for _, mine in frame.groupby(["method", "variant"], dropna=False, sort=True)
    ]
    table = pd.concat(blocks, ignore_index=True)
    setting = [c for c in table.columns if c.startswith("p.")]
    for column in setting:
        table[column] = table[column].astype(object).where(table[column].notna(), "")
    rest = [c for c in table.columns if c not in ("method", "variant", *setting)]
    return table[["method", "variant", *setting, *rest]]


def _ranked_settings(frame: pd.DataFrame, held_out: str) -> pd.DataFrame:
    """:func:`across_datasets` for one method and readout, over its own parameters."""
    setting = [c for c in frame.columns if c.startswith("p.") and (frame[c] != "").any()]
    group = ["method", "variant", *setting]
    wide = frame.pivot_table(index=group, columns="data", values="acc_mean", dropna=True)
    held = [c for c in wide.columns if c.startswith(f"{held_out} (")]
    search = [c for c in wide.columns if c not in held]
    if not search:
        raise ValueError("the search needs at least one dataset besides the held-out one")
    wide["score"] = wide[search].mean(axis=1, skipna=False)
    wide["held_out"] = wide[held].mean(axis=1)
    block = wide.reset_index().sort_values("score", ascending=False, na_position="last")
    block["chosen"] = False
    if block["score"].notna().any():
        block.loc[block["score"].idxmax(), "chosen"] = True
    block["held_out_rank"] = block["held_out"].rank(ascending=False, method="min")
    return block


def format_across(table: pd.DataFrame, held_out: str) -> str:
    """Markdown of :func:`across_datasets`, with one line per method and readout saying
    what the choice gives on the held-out dataset against the best setting there."""
    if table.empty:
        return "(no finished records)"
    shown = table.copy()
    numeric = [c for c in shown.columns if c not in ("method", "variant", "chosen")]
    numeric = [c for c in numeric if not c.startswith("p.") and c != "held_out_rank"]
    for column in numeric:
        shown[column] = shown[column].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}")
    shown["chosen"] = shown["chosen"].map({True: "**chosen**", False: ""})
    shown["held_out_rank"] = shown["held_out_rank"].map(lambda v: "-" if pd.isna(v) else f"{v:.0f}")
    lines = [shown.to_markdown(index=False, disable_numparse=True), ""]
    for (method, variant), block in table.groupby(["method", "variant"], dropna=False):
        label = f"{method}[{variant}]" if variant else method
        chosen = block[block["chosen"]]
        if chosen.empty or chosen["held_out"].isna().all():
            lines.append(f"- {label}: no held-out run")
            continue
        pick = chosen.iloc[0]
        lines.append(
            f"- {label}: the choice gives "
            f"{pick['held_out']:.3f} on {held_out} (rank {int(pick['held_out_rank'])} of "
            f"{int(block['held_out'].notna().sum())}; the best setting there: "
            f"{block['held_out'].max():.3f})"
        )
    return "\n".join(lines) + "\n"
