"""The benchmark's figures, drawn on matplotlib's Agg canvas and saved as PNG and SVG.

* ``fig2``: LRSC's Figure 2 (Li et al., AAAI 2021): t-SNE (van der Maaten & Hinton,
  2008) of a deep fit's latent codes (the sample its fit kept, see
  :mod:`benchmark.figures.data`), coloured by true class, beside the same map coloured
  by predicted cluster.
* ``fig3``: LRSC's Figure 3: the affinity the method clustered, points sorted by true
  class (then by predicted cluster), class boundaries drawn.
* ``cost``: per dataset, ACC (mean ± std over seeds) against mean fit time and against
  mean peak memory; one point per method, readout, size and configuration. Hollow
  markers: times measured on a loaded machine (:func:`benchmark.tables.on_loaded_machine`).
* ``sensitivity``: where a grid was run (a method parameter takes several values for one
  method, readout, dataset and size), ACC (mean ± std over seeds) against each varied
  parameter, one line per setting of the other varied parameters.

``fig2`` and ``fig3`` draw one record per setting (method, readout, dataset, size,
configuration): its lowest seed, or every seed with ``every_seed``. File stems say what
a figure shows, e.g. ``fig2-tsne-dscn-l2-bbc-n2225-s0``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from benchmark.atomic import atomic_write
from benchmark.figures import KINDS
from benchmark.figures.data import FIGURE_DATA_DIR, figure_data_path, load_figure_data
from benchmark.registry import Registry
from benchmark.tables import on_loaded_machine
from benchmark.tuning import search_summary

DPI = 150
SVG_SALT = "subspace-bench"
"""Fixed salt of the SVG element ids: the same figure gives the same file."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
EXAMPLES_SHOWN = 3


@dataclass
class PlotOutcome:
    """What :func:`make_figures` did: the PNG files written (an SVG beside each), the
    figures it could not make and why, and the kinds that had nothing to draw."""

    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    empty: dict[str, str] = field(default_factory=dict)


def deep_method_ids(registry: Registry, method_ids: Iterable[str]) -> set[str]:
    """Those of ``method_ids`` whose fits keep figure data (deep self-expressive
    estimators); ids the registry does not know are left out."""
    from benchmark.deep.estimator import DeepSelfExpressiveClustering

    known = [registry.methods[i] for i in set(method_ids) if i in registry.methods]
    return {
        method.id
        for method in known
        if issubclass(method.estimator_class, DeepSelfExpressiveClustering)
    }


def select_records(
    records: Iterable[dict[str, Any]],
    methods: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """The ``ok`` records of the given methods, datasets and seeds (``None``: all)."""
    return [
        r
        for r in records
        if r.get("status") == "ok"
        and (methods is None or r["method"] in methods)
        and (datasets is None or r["dataset"] in datasets)
        and (seeds is None or r["seed"] in seeds)
    ]


# -- naming ---------------------------------------------------------------------------


def _slug(text: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-")


def _config(record: dict[str, Any]) -> str:
    return json.dumps([record["params"], record["dataset_params"]], sort_keys=True, default=repr)


def _setting(record: dict[str, Any]) -> tuple[str, str, str, int]:
    """Method, readout, dataset and size: what a grid's records share."""
    return (record["method"], record.get("variant") or "", record["dataset"], record["n_points"])


def _short(value: Any) -> str:
    """A parameter value for a name: itself when scalar, else a 6-digit digest."""
    if isinstance(value, list | tuple | dict):
        return hashlib.sha1(json.dumps(value, default=repr).encode()).hexdigest()[:6]
    return str(value)


def _varying(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(field, name) of the method and dataset parameters that differ across ``records``."""
    names = []
    for field_name in ("params", "dataset_params"):
        keys = sorted({k for r in records for k in r[field_name]})
        for key in keys:
            seen = {json.dumps(r[field_name].get(key), default=repr) for r in records}
            if len(seen) > 1:
                names.append((field_name, key))
    return names


def _method_label(record: dict[str, Any], names: dict[str, str]) -> str:
    variant = record.get("variant") or ""
    name = names.get(record["method"], record["method"])
    return f"{name} ({variant})" if variant else name


def _stem(prefix: str, record: dict[str, Any], suffix: str) -> str:
    parts = [prefix, record["method"], record.get("variant") or "", record["dataset"]]
    parts += [f"n{record['n_points']}", f"s{record['seed']}", suffix]
    return "-".join(_slug(p) for p in parts if p)


# -- saving ---------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, to_dir: Path, stem: str) -> Path:
    """Write ``stem.png`` and ``stem.svg`` into ``to_dir`` atomically; the PNG's path."""
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
        for fmt in ("svg", "png"):
            atomic_write(
                to_dir / f"{stem}.{fmt}",
                lambda handle, fmt=fmt: figure.savefig(
                    handle, format=fmt, dpi=DPI, metadata={"Date": None} if fmt == "svg" else {}
                ),
            )
    return to_dir / f"{stem}.png"


def _colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["turbo"](x) for x in np.linspace(0, 1, count)]


# -- Figures 2 and 3 ------------------------------------------------------------------


def _class_names(record: dict[str, Any], labels: np.ndarray) -> list[str]:
    classes = (record.get("data_info") or {}).get("classes")
    count = int(labels.max()) + 1
    if isinstance(classes, list) and len(classes) >= count:
        return [str(c) for c in classes]
    return [f"class {k}" for k in range(count)]


def tsne_map(codes: np.ndarray, seed: int) -> np.ndarray:
    """2-D t-SNE of ``codes`` (scikit-learn, PCA start, seeded): one row per point."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(codes) - 1) / 3)
    tsne = TSNE(
        n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed
    )
    return tsne.fit_transform(np.asarray(codes, dtype=np.float64))


def _title(record: dict[str, Any], names: dict[str, str]) -> str:
    acc = (record.get("metrics") or {}).get("acc")
    score = "" if acc is None else f", ACC {acc:.3f}"
    return (
        f"{_method_label(record, names)} on {record['dataset']}, n = {record['n_points']:,}, "
        f"seed {record['seed']}{score}"
    )


def figure2(
    record: dict[str, Any], data: dict[str, np.ndarray], embedding: np.ndarray, names: dict
) -> Figure:
    """t-SNE map of the kept latent codes, by true class (left) and predicted cluster."""
    figure = _figure(12, 5.5)
    true, predicted = data["labels_true"], data["labels_pred"]
    classes = _class_names(record, true)
    panels = figure.subplots(1, 2)
    for axes, labels, title in (
        (panels[0], true, "coloured by true class"),
        (panels[1], predicted, "coloured by predicted cluster"),
    ):
        colours = _colours(int(labels.max()) + 1)
        for k in np.unique(labels):
            at = labels == k
            name = classes[k] if labels is true else f"cluster {k}"
            axes.scatter(*embedding[at].T, s=9, color=colours[k], label=name, linewidths=0)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(title)
    panels[0].legend(fontsize="small", markerscale=2, frameon=False, loc="best")
    dims, kept = data["codes"].shape[1], float(data["codes_variance_kept"])
    figure.suptitle(
        f"{_title(record, names)}\nt-SNE of the latent codes of {len(true)} points "
        f"(class-stratified sample; {dims} principal components, {kept:.0%} of their variance)"
    )
    return figure


def figure3(record: dict[str, Any], data: dict[str, np.ndarray], names: dict) -> Figure:
    """The kept affinity, points sorted by true class then predicted cluster."""
    true, predicted = data["labels_true"], data["labels_pred"]
    order = np.lexsort((predicted, true))
    affinity = data["affinity"][np.ix_(order, order)] / 255.0
    figure = _figure(7.5, 7)
    axes = figure.subplots()
    image = axes.imshow(
        affinity, cmap="Blues", norm=PowerNorm(0.5, vmin=0, vmax=1), interpolation="nearest"
    )
    present, counts = np.unique(true, return_counts=True)
    ends = np.cumsum(counts)
    for end in ends[:-1]:
        axes.axhline(end - 0.5, color="tab:red", linewidth=0.7)
        axes.axvline(end - 0.5, color="tab:red", linewidth=0.7)
    classes = _class_names(record, true)
    centres = ends - counts / 2 - 0.5
    axes.set_xticks(centres, [classes[k] for k in present], rotation=45, ha="right")
    axes.set_yticks(centres, [classes[k] for k in present])
    figure.colorbar(image, ax=axes, shrink=0.8, label="affinity / its row's largest (√ scale)")
    kind = (
        "DSC-Net post-processed affinity"
        if record["params"].get("post_process")
        else "affinity ½(|C| + |Cᵀ|)"
    )
    axes.set_title(
        f"{_title(record, names)}\n{kind} among {len(true)} points sorted by true class",
        fontsize="medium",
    )
    return figure


def _figure_records(
    records: Sequence[dict[str, Any]], every_seed: bool
) -> list[tuple[dict[str, Any], str]]:
    """The records fig2/fig3 draw, each with its name suffix (the parameters that differ
    from the other configurations of its setting)."""
    by_setting: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        by_setting.setdefault(_setting(record), []).append(record)
    chosen = []
    for _, group in sorted(by_setting.items(), key=lambda item: str(item[0])):
        varying = _varying(group)
        configs_seen: set[str] = set()
        for record in sorted(group, key=lambda r: (r["seed"], r["task_id"])):
            if not every_seed and _config(record) in configs_seen:
                continue
            configs_seen.add(_config(record))
            suffix = "-".join(f"{name}-{_short(record[f].get(name))}" for f, name in varying)
            chosen.append((record, suffix))
    return chosen


def _missing_text(
    missing: Sequence[dict[str, Any]], out_dir: Path, what: str, why: str, flags: str = ""
) -> str:
    """Which deep records lack what fig2/fig3 need, why, and the commands that make it."""
    shown = "; ".join(
        f"{r['method']}{'[' + r['variant'] + ']' if r.get('variant') else ''} on "
        f"{r['dataset']}, n = {r['n_points']:,}, seed {r['seed']} ({r['task_id']})"
        for r in missing[:EXAMPLES_SHOWN]
    )
    more = f" and {len(missing) - EXAMPLES_SHOWN} more" if len(missing) > EXAMPLES_SHOWN else ""
    first = missing[0]
    command = (
        f"python -m benchmark verify --out {out_dir} --methods {first['method']} "
        f"--datasets {first['dataset']} --keep NEWDIR"
    )
    return (
        f"{what} for {len(missing)} deep record(s): {shown}{more}. {why} Rerun them, keeping "
        f"the reruns, e.g. `{command}{flags}`, then `python -m benchmark plot --out NEWDIR`"
    )


def _latent_figures(
    records: Sequence[dict[str, Any]],
    out_dir: Path,
    to_dir: Path,
    kinds: Sequence[str],
    names: dict[str, str],
    deep_methods: set[str],
    every_seed: bool,
    outcome: PlotOutcome,
    report: Callable[[Path], None],
) -> None:
    deep = [r for r in records if r["method"] in deep_methods]
    asked = [k for k in ("fig2", "fig3") if k in kinds]
    if not deep:
        for kind in asked:
            outcome.empty[kind] = (
                "no ok record of a deep self-expressive method (DSCN, DPSC, DASC, LRSC) among "
                "the selected records: fig2 and fig3 show such a fit's latent codes and affinity"
            )
        return
    no_file, no_codes = [], []
    maps: dict[tuple[str, int], np.ndarray] = {}
    for record, suffix in _figure_records(deep, every_seed):
        path = figure_data_path(out_dir, record["task_id"])
        if not path.is_file():
            no_file.append(record)
            continue
        try:
            data = load_figure_data(path)
        except ValueError as exc:  # written by another version of this code
            outcome.problems.append(str(exc))
            continue
        if "fig2" in kinds and "codes" not in data:
            no_codes.append(record)
        elif "fig2" in kinds:
            codes = data["codes"].astype(np.float64) * float(data["codes_scale"])
            key = (hashlib.sha256(codes.tobytes()).hexdigest(), int(record["seed"]))
            if key not in maps:  # the readouts of one fit share its codes, and so its map
                maps[key] = tsne_map(codes, int(record["seed"]))
            figure = figure2(record, data, maps[key], names)
            outcome.written.append(save_figure(figure, to_dir, _stem("fig2-tsne", record, suffix)))
            report(outcome.written[-1])
        if "fig3" in kinds:
            figure = figure3(record, data, names)
            stem = _stem("fig3-affinity", record, suffix)
            outcome.written.append(save_figure(figure, to_dir, stem))
            report(outcome.written[-1])
    if no_file:
        outcome.problems.append(
            _missing_text(
                no_file,
                out_dir,
                f"no figure data in {out_dir / FIGURE_DATA_DIR}",
                "Their tasks ran before fits kept figure data (or the records were copied "
                "without their figure-data folder).",
            )
        )
    if no_codes:
        outcome.problems.append(
            _missing_text(
                no_codes,
                out_dir,
                "figure data without latent codes (no fig2)",
                "Their C came from a coefficient cache entry written before fits kept their "
                "codes; a rerun with a fresh data home trains again.",
                flags=" --data-home FRESHDIR",
            )
        )


# -- accuracy against cost ------------------------------------------------------------


def cost_frame(records: Iterable[dict[str, Any]], names: dict[str, str]) -> pd.DataFrame:
    """One row per dataset, method, readout, size and configuration: ACC mean and std,
    mean fit time and peak memory over seeds, seeds, and whether any ran loaded."""
    rows = [
        {
            "dataset": r["dataset"],
            "label": _method_label(r, names),
            "n_points": r["n_points"],
            "config": _config(r),
            "acc": (r.get("metrics") or {}).get("acc", np.nan),
            "fit_time_s": np.nan if r.get("fit_time_s") is None else r["fit_time_s"],
            "peak_mem_mb": np.nan if r.get("peak_mem_mb") is None else r["peak_mem_mb"],
            "loaded": on_loaded_machine(r),
        }
        for r in records
    ]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    grouped = frame.groupby(["dataset", "label", "n_points", "config"], sort=True)
    summary = grouped.agg(
        acc_mean=("acc", "mean"),
        acc_std=("acc", "std"),
        fit_time_s=("fit_time_s", "mean"),
        peak_mem_mb=("peak_mem_mb", "mean"),
        seeds=("acc", "size"),
        loaded=("loaded", "any"),
    )
    return summary.reset_index().fillna({"acc_std": 0.0})


def cost_figure(dataset: str, frame: pd.DataFrame) -> Figure:
    """ACC against fit time (left) and peak memory (right) for one dataset's rows."""
    figure = _figure(13, 5.5)
    panels = figure.subplots(1, 2, sharey=True)
    labels = sorted(frame["label"].unique())
    colours = dict(zip(labels, _colours(len(labels)), strict=True))
    sizes = sorted(frame["n_points"].unique())
    markers = {size: MARKERS[i % len(MARKERS)] for i, size in enumerate(sizes)}
    for axes, column, xlabel in (
        (panels[0], "fit_time_s", "fit time (s, mean over seeds"),
        (panels[1], "peak_mem_mb", "peak resident memory of the task (MiB, mean over seeds"),
    ):
        for row in frame.itertuples():
            x = getattr(row, column)
            if not np.isfinite(x) or x <= 0:
                continue
            colour = colours[row.label]
            axes.errorbar(
                x, row.acc_mean, yerr=row.acc_std, color=colour, ecolor=colour, elinewidth=0.8,
                marker=markers[row.n_points], markersize=7, linestyle="none",
                markerfacecolor="none" if row.loaded else colour,
            )  # fmt: skip
        values = frame[column][np.isfinite(frame[column]) & (frame[column] > 0)]
        if len(values) and values.max() >= 10 * values.min():
            axes.set_xscale("log")
            xlabel += ", log scale"
        axes.set_xlabel(xlabel + ")")
        axes.grid(True, which="major", alpha=0.3)
    panels[0].set_ylabel("ACC (mean ± std over seeds)")
    handles = [Line2D([], [], color=colours[label], marker="o", ls="none") for label in labels]
    handles += [Line2D([], [], color="grey", marker=markers[s], ls="none") for s in sizes]
    legend = list(labels) + [f"n = {s:,}" for s in sizes]
    if frame["loaded"].any():
        handles.append(Line2D([], [], color="grey", marker="o", markerfacecolor="none", ls="none"))
        legend.append("hollow: timed on a loaded machine")
    figure.legend(handles, legend, loc="outside right center", fontsize="small", frameon=False)
    figure.suptitle(f"{dataset}: accuracy against cost (one point per method, readout and size)")
    return figure


# -- sensitivity ----------------------------------------------------------------------


def _axis_values(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """x positions of a parameter's values: the numbers, or category indices and names."""
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if numeric:
        return values.to_numpy(dtype=float), None
    categories = sorted({str(v) for v in values})
    return np.array([categories.index(str(v)) for v in values], dtype=float), categories


def sensitivity_figure(
    title: str, group: pd.DataFrame, column: str, others: Sequence[str]
) -> Figure:
    """ACC (mean ± std over seeds) against ``column``; a line per value of ``others``."""
    figure = _figure(8, 5)
    axes = figure.subplots()
    shown = group[group[column] != ""]
    x_all, categories = _axis_values(shown[column])
    shown = shown.assign(_x=x_all)
    lines = shown.groupby(list(others), sort=True) if others else [((), shown)]
    for key, line in lines:
        key = key if isinstance(key, tuple) else (key,)
        line = line.sort_values("_x")
        label = ", ".join(f"{c[2:]}={v}" for c, v in zip(others, key, strict=True))
        label = (label[:57] + "…") if len(label) > 58 else label
        axes.errorbar(
            line["_x"], line["acc_mean"], yerr=line["acc_std"].fillna(0.0), marker="o",
            capsize=3, label=label or None,
        )  # fmt: skip
    if categories is not None:
        axes.set_xticks(range(len(categories)), categories)
    elif x_all.min() > 0 and x_all.max() / x_all.min() >= 100:
        axes.set_xscale("log")
    axes.set_xlabel(column[2:])
    fewest, most = int(shown["seeds"].min()), int(shown["seeds"].max())
    seeds = str(most) if fewest == most else f"{fewest}-{most}"
    axes.set_ylabel(f"ACC (mean ± std over {seeds} seeds)")
    axes.grid(True, alpha=0.3)
    if others:
        axes.legend(fontsize="small", frameon=False)
    axes.set_title(title, fontsize="medium")
    return figure


def _sensitivity_figures(
    records: Sequence[dict[str, Any]],
    to_dir: Path,
    names: dict[str, str],
    outcome: PlotOutcome,
    report: Callable[[Path], None],
) -> None:
    summary = search_summary(records)
    drawn = 0
    if not summary.empty:
        varied = [c for c in summary.columns if c.startswith(("p.", "d."))]
        keys = ["method", "variant", "dataset", "n_points"]
        for (method, variant, dataset, size), group in summary.groupby(keys, sort=True):
            varying = [c for c in varied if group.loc[group[c] != "", c].nunique() > 1]
            for column in (c for c in varying if c.startswith("p.")):
                others = [c for c in varying if c != column]
                record = {"method": method, "variant": variant}
                title = (
                    f"{_method_label(record, names)} on {dataset}, n = {size:,}: "
                    f"ACC against {column[2:]}"
                )
                figure = sensitivity_figure(title, group, column, others)
                parts = ["sensitivity", method, variant, dataset, f"n{size}", column[2:]]
                stem = "-".join(_slug(p) for p in parts if p)
                outcome.written.append(save_figure(figure, to_dir, stem))
                report(outcome.written[-1])
                drawn += 1
    if not drawn:
        outcome.empty["sensitivity"] = (
            "no method parameter takes several values for one method, readout, dataset and "
            "size among the selected records: sensitivity curves need a grid (run with "
            "--set METHOD.PARAM=V1,V2,...)"
        )


# -- all together ---------------------------------------------------------------------


def make_figures(
    records: Sequence[dict[str, Any]],
    out_dir: str | Path,
    to_dir: str | Path,
    kinds: Sequence[str] = KINDS,
    names: dict[str, str] | None = None,
    deep_methods: Iterable[str] = (),
    every_seed: bool = False,
    report: Callable[[Path], None] | None = None,
) -> PlotOutcome:
    """Draw the ``kinds`` of figures of the ``ok`` ``records`` of ``out_dir`` into
    ``to_dir``; ``deep_methods`` are the ids whose fits keep figure data, ``names`` the
    display names; ``report`` sees each PNG as it is written."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown figure kinds {unknown}; known: {', '.join(KINDS)}")
    out_dir, to_dir = Path(out_dir), Path(to_dir)
    names = names or {}
    report = report or (lambda path: None)
    ok = [r for r in records if r.get("status") == "ok"]
    outcome = PlotOutcome()
    if "fig2" in kinds or "fig3" in kinds:
        _latent_figures(
            ok, out_dir, to_dir, kinds, names, set(deep_methods), every_seed, outcome, report
        )
    if "cost" in kinds:
        frame = cost_frame(ok, names)
        for dataset, rows in frame.groupby("dataset", sort=True) if not frame.empty else []:
            figure = cost_figure(dataset, rows)
            outcome.written.append(save_figure(figure, to_dir, f"acc-vs-cost-{_slug(dataset)}"))
            report(outcome.written[-1])
        if frame.empty:
            outcome.empty["cost"] = "no ok records selected"
    if "sensitivity" in kinds:
        _sensitivity_figures(ok, to_dir, names, outcome, report)
    return outcome
