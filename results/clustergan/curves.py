"""ClusterGAN's records summarised, and ACC against generator iterations (seed 0).

Run from the repository root after the sweep (see README.md here):

    SUBSPACE_BENCH_MIRROR=../shared/data python results/clustergan/curves.py [OUT]

(``OUT``: the sweep's output folder, default ``results``.)

The curves come from the snapshots the sweep's own training runs took (``snapshot_every``),
kept in the artefact cache under the data home: no run is repeated, and the curve's last
point is the record's result. A training that is not cached is run here first.
Writes ``results/clustergan/curves.md``.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmark.metrics import clustering_accuracy
from benchmark.registry import Registry
from benchmark.store import Store

HERE = Path(__file__).resolve().parent
RECORDS = HERE.parent
PAPER_ACC = {
    ("bbc", 2225): 0.510,
    ("20newsgroups", 9301): 0.244,
    ("fashion-mnist", 1000): 0.558,
    ("notmnist", 1000): 0.475,
    ("fashion-mnist", 10000): 0.581,
    ("notmnist", 10000): 0.510,
}
READOUT = {"": "kmeans", "argmax": "argmax"}


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def summary(records: list[dict]) -> list[str]:
    """One row per dataset, size and readout: ACC/NMI/ARI over seeds, time and memory."""
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        cells[(record["dataset"], record["n_points"], record["variant"])].append(record)
    lines = [
        "| dataset | n | readout | seeds | ACC | NMI | ARI | paper ACC | fit time (s) "
        "| peak memory (MiB) | iterations |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, n, variant), group in sorted(cells.items()):
        ok = [r for r in group if r["status"] == "ok"]
        if not ok:
            lines.append(f"| {dataset} | {n} | {READOUT[variant]} | 0 ({group[0]['status']}) |")
            continue
        metric = {k: mean_std([r["metrics"][k] for r in ok]) for k in ("acc", "nmi", "ari")}
        seeds = ",".join(str(r["seed"]) for r in sorted(ok, key=lambda r: r["seed"]))
        fit = "/".join(f"{r['fit_time_s']:.0f}" for r in sorted(ok, key=lambda r: r["seed"]))
        memory = max(r["peak_mem_mb"] for r in ok)
        paper = PAPER_ACC.get((dataset, n))
        lines.append(
            f"| {dataset} | {n} | {READOUT[variant]} | {seeds} | {metric['acc']} | "
            f"{metric['nmi']} | {metric['ari']} | {paper if paper else '—'} | {fit} | "
            f"{memory:.0f} | {ok[0]['convergence']['iterations']} |"
        )
    return lines


def curve(registry: Registry, record: dict) -> dict[int, float]:
    """ACC of the record's readout at every snapshot of its (cached) training."""
    dataset = registry.dataset(record["dataset"])
    method = registry.method("clustergan")
    bundle = dataset.load(record["n_points"], record["seed"], **record["dataset_params"])
    model = method.estimator_class(
        n_clusters=bundle.n_clusters, random_state=record["seed"], **record["params"]
    ).fit(bundle.view(method.view))
    acc = clustering_accuracy(bundle.y, model.labels_)
    if abs(acc - record["metrics"]["acc"]) > 1e-12:
        raise RuntimeError(f"training of {record['task_id']} does not reproduce its record")
    return {step: clustering_accuracy(bundle.y, labels) for step, labels in
            sorted(model.label_history_.items())}  # fmt: skip


def curves(records: list[dict]) -> list[str]:
    registry = Registry()
    lines: list[str] = []
    seed0 = sorted(
        (r for r in records if r["seed"] == 0 and r["status"] == "ok"),
        key=lambda r: (r["dataset"], r["n_points"], r["variant"]),
    )
    by_task: dict[tuple, dict[str, dict[int, float]]] = defaultdict(dict)
    for record in seed0:
        points = curve(registry, record)
        final = record["metrics"]["acc"]
        last = points[max(points)] if points else None
        if last is not None and abs(last - final) > 1e-12:
            raise RuntimeError(f"curve end {last} differs from the record's ACC {final}")
        by_task[(record["dataset"], record["n_points"])][READOUT[record["variant"]]] = points
    for (dataset, n), readouts in by_task.items():
        steps = sorted(set().union(*(set(p) for p in readouts.values())))
        lines += [
            "",
            f"### {dataset}, n = {n}, seed 0",
            "",
            "| iteration | " + " | ".join(f"ACC ({name})" for name in readouts) + " |",
            "|---|" + "---|" * len(readouts),
        ]
        for step in steps:
            row = " | ".join(f"{readouts[name].get(step, float('nan')):.3f}" for name in readouts)
            lines.append(f"| {step} | {row} |")
    return lines


def main(out: Path = RECORDS) -> None:
    """Summarise the ClusterGAN records under ``out`` into ``curves.md`` beside this file."""
    records = [r for r in Store(out).records() if r["method"] == "clustergan"]
    text = [
        "# ClusterGAN: records and ACC against iterations",
        "",
        "Written by `results/clustergan/curves.py` from `results/records` (do not edit).",
        "Readout `kmeans` is the default variant (the reference code's), `argmax` the variant.",
        "Fit times are per seed, in the order of the seeds column.",
        "",
        *summary(records),
        "",
        "## ACC against generator iterations (seed 0; the last row is the record's result)",
        *curves(records),
        "",
    ]
    (HERE / "curves.md").write_text("\n".join(text))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RECORDS)
