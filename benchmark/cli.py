"""Command-line face: parse arguments, call the engine, print. No science here."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import psutil
from tabulate import tabulate

from benchmark import cache_cli, verify_ledger
from benchmark.atomic import atomic_write_json
from benchmark.figures import KINDS
from benchmark.provenance import cpu_description, git_commit
from benchmark.registry import PluginLoadError, Registry, UnknownPluginError
from benchmark.runner import NOT_OK, failure_reason, plan
from benchmark.store import Store
from benchmark.tasks import GridError, Task, expand_grid, parse_overrides
from benchmark.verify import DEFAULT_TOLERANCE, Check, kernel_choice, select_records, verify

DEFAULT_OUT = "runs"
"""Where a user's own runs go; the committed campaigns live in ``results/`` (``--out results``)."""
EXIT_TASKS_FAILED = 1
EXIT_USAGE = 2
STATUS_DETAIL_CHARS = 100
"""Width of the status table's detail column; the whole messages follow the table."""


def _int_list(minimum: int, example: str) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated integers, each at least ``minimum``."""
    wanted = "non-negative" if minimum == 0 else "positive" if minimum == 1 else f">= {minimum}"

    def parse(text: str) -> list[int]:
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values or min(values) < minimum:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {wanted} integers, e.g. {example}; got {text!r}"
            )
        return values

    return parse


def _kinds(text: str) -> list[str]:
    """An argparse type: comma-separated figure kinds of ``plot``."""
    kinds = [v.strip() for v in text.split(",") if v.strip()]
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated figure kinds among {','.join(KINDS)}; got {text!r}"
        )
    return kinds


def _positive_int(text: str) -> int:
    """An argparse type: one positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plugins",
        action="append",
        default=[],
        metavar="DIR",
        help="extra folder of method/dataset plugin files (repeatable)",
    )
    parser.add_argument(
        "--data-home",
        help="where datasets and feature caches live "
        "(default: $SUBSPACE_BENCH_DATA or ~/.cache/subspace-bench)",
    )
    parser.add_argument(
        "--mirror", help="local folder of upstream dataset files (default: $SUBSPACE_BENCH_MIRROR)"
    )


def _out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help="output folder (default: runs/, your own runs; the committed campaigns: results/)",
    )


def _default_budget_gb() -> float:
    return round(psutil.virtual_memory().total * 0.9 / 2**30, 1)


SLURM_OPTIONS = (
    "profile", "partition", "time_min", "mem_gb", "cpus_per_task", "gpus_per_task",
    "array_parallelism", "account", "qos",
)  # fmt: skip
"""Destinations of the SLURM options, handed to the SLURM executor as they are."""


def _slurm_options(parser: argparse.ArgumentParser) -> None:
    """Options of ``--executor slurm`` (see slurm/README.md); unset ones come from the profile."""
    group = parser.add_argument_group("SLURM (--executor slurm)")
    group.add_argument(
        "--profile",
        help="settings in slurm/NAME.toml, or a .toml file path (default: slurm/default.toml)",
    )
    group.add_argument("--partition", help="SLURM partition")
    group.add_argument(
        "--slurm-time-min",
        type=float,
        dest="time_min",
        metavar="MIN",
        help="SLURM time limit per task in minutes "
        "(default: 1.5 x --timeout-min + 5, else the profile's, else 240)",
    )
    group.add_argument(
        "--mem-gb",
        type=float,
        help="memory per task in GB (default: the profile's, else from the memory estimates)",
    )
    group.add_argument("--cpus-per-task", type=int, help="CPUs per task")
    group.add_argument("--gpus-per-task", type=int, help="GPUs per task")
    group.add_argument("--array-parallelism", type=int, help="array tasks running at once")
    group.add_argument("--account", help="SLURM account to charge")
    group.add_argument("--qos", help="SLURM quality of service")
    group.add_argument(
        "--no-wait", action="store_true", help="submit and return; follow the tasks with `status`"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmark`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmark",
        description="Subspace clustering benchmark: run methods on datasets, build the "
        "tables of the LRSC paper (Li et al., AAAI 2021) beside its numbers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a grid of tasks (resumable)",
        description="Run methods x datasets x sizes x seeds x --set values; tasks recorded ok "
        "are skipped. After the run, every task that failed, timed out or diverged is listed "
        "with its reason (the error's final message, with any fix it suggests) and its log.",
        epilog=f"exit status: 0 when every task of the grid succeeded (or runs elsewhere); "
        f"{EXIT_TASKS_FAILED} when any task failed, timed out or diverged (in this run, or "
        f"recorded earlier and not rerun); {EXIT_USAGE} for bad arguments (unknown ids, "
        f"malformed values).",
    )
    _common(run)
    _out(run)
    run.add_argument("--methods", default="all", help="'all' or comma-separated method ids")
    run.add_argument(
        "--variants",
        type=_id_list,
        help="only these variants, comma-separated ('plain' is a method's default; "
        "e.g. plain,post; default: every variant of each method)",
    )
    run.add_argument(
        "--datasets",
        default="all",
        help="'all' (every target dataset) or comma-separated dataset ids",
    )
    run.add_argument(
        "--sizes",
        type=_int_list(1, "1000,5000"),
        help="numbers of points, e.g. 1000,5000 (default: each dataset's sizes)",
    )
    run.add_argument(
        "--seeds", type=_int_list(0, "0,1,2"), default=[0, 1, 2], help="default: 0,1,2"
    )
    run.add_argument("--jobs", type=_positive_int, default=1, help="tasks run at once (default 1)")
    run.add_argument("--timeout-min", type=float, help="per-task wall-clock limit in minutes")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ID.PARAM=V1[,V2...]",
        help="override a method or dataset parameter; several values make a grid",
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="also rerun tasks recorded failed, timeout or diverged",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="print the tasks with their memory estimate and stop"
    )
    run.add_argument(
        "--mem-budget-gb",
        type=float,
        default=_default_budget_gb(),
        help="refuse tasks whose method estimates more (default: 90%% of RAM)",
    )
    run.add_argument(
        "--mem-limit-gb",
        type=float,
        help="hard memory limit per task process (allocations past it fail)",
    )
    run.add_argument(
        "--executor",
        choices=["local", "slurm", "debug"],
        default="local",
        help="local: one child process per task (default); slurm: SLURM array jobs through "
        "submitit; debug: in-process",
    )
    _slurm_options(run)

    table = commands.add_parser("table", help="print Table 1, 2 or 3 from the records")
    _common(table)
    _out(table)
    table.add_argument("--table", type=int, choices=[1, 2, 3], default=1)
    table.add_argument("--format", choices=["md", "latex", "csv"], default="md")
    table.add_argument("--save", metavar="FILE", help="write the table to FILE")
    table.add_argument("--no-reference", action="store_true", help="hide reference rows")

    listing = commands.add_parser("list", help="list methods and datasets")
    _common(listing)
    listing.add_argument("what", nargs="?", choices=["methods", "datasets"])
    listing.add_argument(
        "--params", action="store_true", help="also show default parameters and their sources"
    )

    status = commands.add_parser("status", help="state of every task of the runs in --out")
    _common(status)
    _out(status)

    # `perf` has its own parser (benchmark.perf); listed here for the command overview
    commands.add_parser("perf", help="time the classical methods and the spectral step")

    verify = commands.add_parser(
        "verify",
        help="rerun committed records in fresh processes and compare their metrics",
        description="Rerun the ok records of --out (reruns go to a temporary folder) and "
        "compare ACC/NMI/ARI: exactly for CPU records that state their BLAS thread count "
        "(the rerun uses that count), else within --tolerance. Prints matched / differs "
        "with both values; exits 1 on any difference.",
    )
    _common(verify)
    _out(verify)
    verify.add_argument("--methods", help="comma-separated method ids (default: all recorded)")
    verify.add_argument("--datasets", help="comma-separated dataset ids (default: all recorded)")
    verify.add_argument(
        "--sizes",
        type=_int_list(1, "5000,10000"),
        help="comma-separated n (records of these sizes only; default: all)",
    )
    verify.add_argument(
        "--tasks", help="comma-separated task ids (these records only; default: all)"
    )
    verify.add_argument(
        "--sample",
        type=int,
        metavar="K",
        help="only the K cheapest records (by recorded fit time, ties by task id)",
    )
    verify.add_argument(
        "--hours",
        type=float,
        metavar="H",
        help="only the cheapest records whose reruns fit in H recorded hours (each training "
        "once): a sitting of a long verification, with --unverified",
    )
    verify.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="largest absolute metric difference when a rerun cannot be exact "
        f"(default {DEFAULT_TOLERANCE})",
    )
    verify.add_argument("--jobs", type=_positive_int, default=1, help="reruns at once (default 1)")
    verify.add_argument("--timeout-min", type=float, help="per-rerun wall-clock limit in minutes")
    verify.add_argument(
        "--reuse-artifacts",
        action="store_true",
        help="let the deep methods' reruns read the cached trainings (pretrained "
        "auto-encoders, C, ClusterGAN) instead of training again: quick, but it checks only "
        "the readout (default: they train in an empty artefact folder of their own)",
    )
    verify.add_argument(
        "--keep",
        metavar="DIR",
        help="write the reruns into DIR and keep them (default: a temporary folder, removed)",
    )
    verify.add_argument(
        "--adopt",
        metavar="DIR",
        help="rerun nothing: replace each record of --out whose ledger verdict is 'differs' "
        "by the rerun that verdict judged, kept in DIR by an earlier verify --keep DIR (same "
        "task and configuration, status ok; its log and figure data come along), then print "
        "the command that verifies the replaced records with a second rerun",
    )
    verify.add_argument(
        "--unverified",
        action="store_true",
        help="skip the records that the ledger (OUT/verify/ledger.jsonl) shows matched under "
        "the current code, and those whose last rerun under the current code on this kind of "
        "CPU differed (listed): a long verification resumes where it stopped",
    )
    verify.add_argument(
        "--coverage",
        action="store_true",
        help="rerun nothing: print, per method, how many records the ledger shows matched "
        "under the current code, matched under older code, differing, or never checked, and "
        "the recorded hours it would take to rerun those not matched under the current code "
        "(of the records that --methods, --datasets, --sizes and --tasks select)",
    )

    tuning = commands.add_parser(
        "tuning",
        help="summarise a parameter search: mean metrics per setting, the best per group",
        description="Group the ok records of --out (a search run with --set grids on tuning "
        "data) by method, readout variant, dataset configuration and the parameters that "
        "vary; print mean ± std over seeds per setting and the setting of highest mean ACC.",
    )
    _common(tuning)
    _out(tuning)
    tuning.add_argument("--save", help="also write the summary (markdown) to this file")
    tuning.add_argument(
        "--held-out",
        metavar="DATASET",
        help="choose each setting by its mean ACC over the other datasets of the search and "
        "report where the choice lands on this one (for settings meant to transfer)",
    )

    report = commands.add_parser(
        "report",
        help="write a static HTML report of --out: tables, cost, figures, failures",
        description="Write one HTML page that opens offline: Tables 1-3 beside the paper's "
        "numbers with their markers, fit time and peak memory per cell, the figures of "
        "OUT/figures/ (made by `plot`), the tasks that did not succeed with their reasons, "
        "and the machines the records come from.",
    )
    _common(report)
    _out(report)
    report.add_argument("--to", metavar="DIR", help="folder of the report (default: OUT/report/)")

    plot = commands.add_parser(
        "plot",
        help="draw figures: the paper's Figures 2-3, accuracy against cost, sensitivity",
        description="Draw the figures of the records of --out as PNG and SVG: fig2, a t-SNE "
        "of a deep fit's latent codes coloured by class (the paper's Figure 2); fig3, its "
        "affinity matrix with the points sorted by class (Figure 3); cost, ACC against fit "
        "time and peak memory per dataset; sensitivity, ACC against each parameter a grid "
        "varied (e.g. a tuning folder). fig2 and fig3 read the figure data that a deep fit "
        "keeps beside its record (OUT/figure-data/), for the lowest seed of each setting "
        "unless --seeds is given.",
        epilog="exit status: 0 when every figure asked for was drawn; 1 when some could not "
        "be (the reasons and the commands that fix them are printed); 2 for bad arguments "
        "or no records.",
    )
    _common(plot)
    _out(plot)
    plot.add_argument("--to", metavar="DIR", help="folder of the figures (default: OUT/figures/)")
    plot.add_argument("--methods", type=_id_list, help="comma-separated method ids (default: all)")
    plot.add_argument(
        "--datasets", type=_id_list, help="comma-separated dataset ids (default: all)"
    )
    plot.add_argument(
        "--seeds",
        type=_int_list(0, "0,1"),
        help="only these seeds (default: all; fig2/fig3 draw the lowest of each setting)",
    )
    plot.add_argument(
        "--kind",
        type=_kinds,
        help=f"comma-separated figures among {','.join(KINDS)} (default: all)",
    )

    fetch = commands.add_parser("fetch", help="download or copy datasets into the data home")
    _common(fetch)
    fetch.add_argument("--datasets", default="all", help="'all' or comma-separated ids")
    cache_cli.add_parser(commands)
    return parser


def _apply_data_locations(args: argparse.Namespace) -> None:
    # Environment variables reach worker processes and SLURM jobs unchanged.
    if getattr(args, "data_home", None):
        os.environ["SUBSPACE_BENCH_DATA"] = str(Path(args.data_home).resolve())
    if getattr(args, "mirror", None):
        os.environ["SUBSPACE_BENCH_MIRROR"] = str(Path(args.mirror).resolve())


def _print_dry_run(tasks: Sequence[Task], store: Store) -> None:
    rows = []
    for task in tasks:
        record = store.read_record(task.task_id)
        estimate = task.memory_estimate_mb
        rows.append([
            task.task_id, task.method + (f"[{task.variant}]" if task.variant else ""),
            task.dataset, task.n_points, task.seed,
            "?" if estimate is None else f"{estimate / 1024:.2f}",
            record["status"] if record else "-",
        ])  # fmt: skip
    headers = ["task", "method", "dataset", "n", "seed", "est. GiB", "recorded"]
    print(tabulate(rows, headers=headers))


def _save_grid(store: Store, tasks: Sequence[Task]) -> None:
    """Remember the grid so that ``status`` can tell missing tasks."""
    ids = sorted(t.task_id for t in tasks)
    name = hashlib.sha256("".join(ids).encode()).hexdigest()[:12]
    atomic_write_json(store.root / "grids" / f"{name}.json", [t.to_dict() for t in tasks])


def cmd_run(args: argparse.Namespace, registry: Registry) -> int:
    """``run``: expand the grid, skip what is done, execute the rest."""
    tasks = expand_grid(
        registry,
        registry.resolve_methods(args.methods),
        registry.resolve_datasets(args.datasets),
        args.sizes,
        args.seeds,
        parse_overrides(args.set),
        args.variants,
    )
    store = Store(args.out)
    if args.dry_run:
        _print_dry_run(tasks, store)
        print(f"{len(tasks)} tasks; {plan(tasks, store, args.retry_failed).summary()}")
        return 0
    _save_grid(store, tasks)
    work = plan(tasks, store, args.retry_failed)
    print(work.summary(), flush=True)
    budget_mb = args.mem_budget_gb * 1024
    if args.executor == "debug":
        from benchmark.executors.debug import DebugExecutor

        executor = DebugExecutor(mem_budget_mb=budget_mb)
    elif args.executor == "slurm":
        from benchmark.executors.slurm import SlurmSetupError, slurm_executor_from_options

        options = {name: getattr(args, name) for name in SLURM_OPTIONS}
        try:
            executor = slurm_executor_from_options(options, args.timeout_min, no_wait=args.no_wait)
        except SlurmSetupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        from benchmark.executors.local import LocalExecutor

        executor = LocalExecutor(
            jobs=args.jobs,
            timeout_min=args.timeout_min,
            mem_budget_mb=budget_mb,
            mem_limit_mb=None if args.mem_limit_gb is None else args.mem_limit_gb * 1024,
        )
    records = executor.run(work.to_run, store)
    if args.executor == "slurm" and args.no_wait:
        return 0
    _, summary = _tally(record["status"] for record in records)
    print("finished: " + (summary or "nothing"))
    print(
        f"records in {store.records_dir}; build tables with `python -m benchmark table "
        f"--out {args.out}`",
        flush=True,
    )
    return _report_failures(tasks, records, [store.read_record(t.task_id) for t in work.failed])


def _report_failures(
    tasks: Sequence[Task],
    records: Sequence[dict[str, Any]],
    earlier: Sequence[dict[str, Any] | None],
) -> int:
    """Print each task of this run and each skipped earlier one that did not succeed, with
    its reason and log (stderr); the run's exit status."""
    labels = {task.task_id: task.label for task in tasks}
    now = [r for r in records if r["status"] in NOT_OK]
    earlier = [r for r in earlier if r is not None and r["status"] in NOT_OK]
    if not now and not earlier:
        return 0
    print(f"\n{len(now) + len(earlier)} task(s) did not succeed:", file=sys.stderr)
    failed = [(labels[r["task_id"]], r, False) for r in now]
    failed += [(labels[r["task_id"]], r, True) for r in earlier]
    for text in _failure_texts(failed):
        print(text, file=sys.stderr)
    if earlier:
        print(
            "tasks that failed earlier were not rerun: add --retry-failed once their cause "
            "is fixed",
            file=sys.stderr,
        )
    return EXIT_TASKS_FAILED


def cmd_table(args: argparse.Namespace, registry: Registry) -> int:
    """``table``: aggregate the records into Table 1, 2 or 3."""
    from benchmark.tables import build_blocks, render, shown_elsewhere

    store = Store(args.out)
    records = store.records()
    if not records:
        print(f"note: no records in {store.records_dir}; every cell is missing", file=sys.stderr)
    for (dataset, size), tables in shown_elsewhere(records, args.table).items():
        where = " or ".join(f"--table {t}" for t in tables)
        print(
            f"note: Table {args.table} does not show the records of {dataset} at "
            f"n = {size:,}; {where} does",
            file=sys.stderr,
        )
    kinds = {m.id: m.kind for m in registry.methods.values()}
    names = {m.id: m.name for m in registry.methods.values()}
    blocks = build_blocks(records, args.table, kinds, names, show_reference=not args.no_reference)
    text = render(blocks, args.format)
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(text)
        print(f"wrote {args.save}")
    else:
        print(text)
    return 0


def cmd_list(args: argparse.Namespace, registry: Registry) -> int:
    """``list``: registered methods and datasets with their kinds."""
    if args.what in (None, "methods"):
        rows = [
            [m.id, m.name, m.kind, m.view, ",".join(v or "(plain)" for v in m.variants)]
            for m in sorted(registry.methods.values(), key=lambda m: m.id)
        ]
        print(tabulate(rows, headers=["method", "name", "kind", "view", "variants"]))
        if args.params:
            for method in sorted(registry.methods.values(), key=lambda m: m.id):
                print(f"\n{method.id}:")
                for dataset_id, params in method.defaults.items():
                    for name, param in params.items():
                        print(f"  [{dataset_id}] {name} = {param.value!r}  ({param.source})")
        print()
    if args.what in (None, "datasets"):
        rows = [
            [d.id, d.name, d.kind, "any" if d.sizes is None else ",".join(map(str, d.sizes))]
            for d in sorted(registry.datasets.values(), key=lambda d: (d.kind, d.id))
        ]
        print(tabulate(rows, headers=["dataset", "name", "kind", "sizes"]))
        if args.params:
            for dataset in sorted(registry.datasets.values(), key=lambda d: d.id):
                print(f"\n{dataset.id}:")
                for name, param in dataset.params.items():
                    print(f"  {name} = {param.value!r}  ({param.source})")
    return 0


def _failure_texts(failed: Sequence[tuple[str, dict[str, Any], bool]]) -> list[str]:
    """``(label, record, recorded earlier)`` of tasks that did not succeed, grouped by
    reason and status, one text per group (:func:`_failure_text`)."""
    groups: dict[tuple[str, str, bool], list[tuple[str, dict[str, Any]]]] = {}
    for label, record, earlier in failed:
        key = (failure_reason(record.get("error")), record["status"], earlier)
        groups.setdefault(key, []).append((label, record))
    return [
        _failure_text(tasks, status, reason, earlier)
        for (reason, status, earlier), tasks in groups.items()
    ]


def _failure_text(
    tasks: Sequence[tuple[str, dict[str, Any]]], status: str, reason: str, earlier: bool = False
) -> str:
    """Tasks that failed alike, for the terminal: the reason once (whole), then each task's
    label and log path (a missing dataset fails every task of it the same way)."""
    when = ", recorded earlier" if earlier else ""
    indented = reason.replace("\n", "\n    ")
    if len(tasks) == 1:
        label, record = tasks[0]
        text = f"- {label} ({status}{when}):\n    {indented}"
        return text + (f"\n    log: {record['log_path']}" if record.get("log_path") else "")
    lines = [f"- {len(tasks)} tasks ({status}{when}), each with:\n    {indented}"]
    for label, record in tasks:
        lines.append(
            f"    {label}" + (f"  log: {record['log_path']}" if record.get("log_path") else "")
        )
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace, registry: Registry) -> int:
    """``status``: done / failed / running / missing for every task of the saved grids,
    with each running task's latest progress line from its log."""
    from benchmark.progress import latest_progress

    store = Store(args.out)
    grids = sorted((store.root / "grids").glob("*.json"))
    tasks: dict[str, Task] = {}
    for path in grids:
        for data in json.loads(path.read_text()):
            task = Task.from_dict(data)
            tasks[task.task_id] = task
    running = store.running()
    rows, totals = [], {}
    failures: list[tuple[str, dict[str, Any]]] = []
    for task_id, task in sorted(tasks.items(), key=lambda kv: kv[1].label):
        record = store.read_record(task_id)
        if task_id in running:
            marker = running[task_id]
            state = marker.get("state", "running")
            job = marker.get("slurm_job_id")
            detail = f"SLURM job {job}" if job else f"pid {marker.get('pid')}"
            progress = latest_progress(store.log_path(task_id))
            if progress is not None:
                detail = f"{detail}; {progress}"
        elif record is None:
            state, detail = "missing", ""
        elif record["status"] == "ok":
            state, detail = "done", f"acc {record['metrics']['acc']:.3f}"
        else:
            state = record["status"]
            detail = failure_reason(record.get("error")).splitlines()[-1]
            if len(detail) > STATUS_DETAIL_CHARS:
                detail = detail[: STATUS_DETAIL_CHARS - 1] + "…"
            failures.append((task.label, record))
        totals[state] = totals.get(state, 0) + 1
        rows.append([task_id, task.label, state, detail])
    print(tabulate(rows, headers=["task", "label", "state", "detail"]))
    print(", ".join(f"{v} {k}" for k, v in sorted(totals.items())) or "no tasks in " + args.out)
    if failures:
        print(f"\nwhy {len(failures)} task(s) did not succeed (whole messages):")
        for text in _failure_texts([(label, record, False) for label, record in failures]):
            print(text)
    return 0


def _tally(labels: Iterable[str]) -> tuple[Counter[str], str]:
    """How many of each label, and ``"N label, ..."`` in label order (empty when none)."""
    counts = Counter(labels)
    return counts, ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def _id_list(text: str | None) -> list[str] | None:
    return [v.strip() for v in text.split(",") if v.strip()] if text else None


def cmd_verify(args: argparse.Namespace, registry: Registry) -> int:
    """``verify``: rerun (a sample of) the committed ok records and compare the metrics."""
    if args.keep and Path(args.keep).resolve() == Path(args.out).resolve():
        print(
            "error: --keep must not be the --out folder (reruns never replace records)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    store = Store(args.out)
    methods, datasets = _id_list(args.methods), _id_list(args.datasets)
    for method_id in methods or ():
        registry.method(method_id)
    for dataset_id in datasets or ():
        registry.dataset(dataset_id)
    entries = verify_ledger.read(args.out)
    if args.adopt:
        return _adopt(args.out, args.adopt, entries)
    code = verify_ledger.code_digest()
    candidates = store.records()
    task_ids = _id_list(args.tasks)
    in_scope = select_records(candidates, methods, datasets, sizes=args.sizes, task_ids=task_ids)
    if args.coverage:
        states = verify_ledger.record_states(in_scope, entries, code)
        rows = verify_ledger.coverage(in_scope, states)
        print(
            f"ledger {verify_ledger.ledger_path(args.out)}; a match is current while the "
            f"sources its rerun loaded are unchanged (entries without them: all sources, "
            f"today {code}); rerun_h: recorded hours to rerun the rest"
        )
        print(tabulate(rows, headers="keys", tablefmt="github"))
        return 0
    skip: set[str] = set()
    if args.unverified:
        states = verify_ledger.record_states(candidates, entries, code)
        skip = {task_id for task_id, state in states.items() if state == "matched"}
        known = verify_ledger.known_differences(
            in_scope, entries, code, cpu_description(), kernel_choice()
        )
        if known:
            print(
                f"skipping {len(known)} records whose last rerun under the current code on "
                f"this CPU differs (see the ledger; verify without --unverified reruns them): "
                + ", ".join(sorted(known)),
                flush=True,
            )
        skip |= known
    try:
        records = select_records(
            candidates,
            methods,
            datasets,
            args.sample,
            args.sizes,
            args.hours,
            skip=skip,
            task_ids=task_ids,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    within = f" within --hours {args.hours:g}" if args.hours else ""
    if not records:
        print(f"no ok records to verify{within} in {store.records_dir}", file=sys.stderr)
        return 0 if args.unverified else 1
    print(f"verifying {len(records)} records of {store.records_dir}{within}", flush=True)
    commit = git_commit()

    def report(check: Check) -> None:
        print(check.line(), flush=True)
        rerun = check.rerun.get("metrics") if check.rerun else None
        sources = ((check.rerun or {}).get("provenance") or {}).get("sources") or {}
        line = verify_ledger.entry(
            check.record,
            check.verdict,
            check.mode,
            rerun,
            sources.get("digest") or code,
            commit,
            sources.get("files") if sources.get("digest") else None,
            ((check.rerun or {}).get("provenance") or {}).get("cpu"),
            kernel_choice(),
        )
        verify_ledger.append(args.out, line)

    checks = verify(
        records,
        registry,
        tolerance=args.tolerance,
        jobs=args.jobs,
        timeout_min=args.timeout_min,
        work_dir=args.keep,
        report=report,
        reuse_artifacts=args.reuse_artifacts,
    )
    counts, summary = _tally(check.verdict for check in checks)
    print(summary)
    return 0 if counts.get("matched", 0) == len(checks) else 1


def _adopt(out: str, keep: str, entries: list[dict[str, Any]]) -> int:
    """``verify --adopt KEEP``: put the kept reruns judged ``differs`` in place."""
    from benchmark.adopt import adopt

    if Path(keep).resolve() == Path(out).resolve():
        print("error: --adopt must name a verify --keep folder, not --out", file=sys.stderr)
        return EXIT_USAGE
    try:
        adoptions = adopt(out, keep, entries)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for a in adoptions:
        print(f"{a.outcome:9s} {a.task_id} {a.label}: {a.detail}")
    counts, summary = _tally(a.outcome for a in adoptions)
    print(summary)
    adopted = [a.task_id for a in adoptions if a.outcome == "adopted"]
    if adopted:
        print(
            "verify the replaced records with a second rerun: python -m benchmark verify "
            f"--out {out} --tasks {','.join(adopted)}"
        )
    return 1 if counts.get("refused") else 0


def cmd_tuning(args: argparse.Namespace, registry: Registry) -> int:
    """``tuning``: the summary of a parameter search and its best settings."""
    from benchmark.tuning import across_datasets, format_across, search_report, search_summary

    store = Store(args.out)
    records = store.records()
    if not records:
        print(f"error: no records in {store.records_dir}", file=sys.stderr)
        return EXIT_USAGE
    text = search_report(records)
    if args.held_out:
        try:
            table = across_datasets(search_summary(records), args.held_out)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        text += (
            f"\n## Chosen across datasets, checked on {args.held_out} (held out)\n\n"
            + format_across(table, args.held_out)
        )
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(text)
        print(f"wrote {args.save}")
    else:
        print(text)
    return 0


def cmd_fetch(args: argparse.Namespace, registry: Registry) -> int:
    """``fetch``: fill the data home ahead of time (e.g. before SLURM jobs without internet)."""
    from benchmark.data import fetch_datasets

    if args.datasets.strip() == "all":
        ids = sorted(i for i, d in registry.datasets.items() if d.kind != "synthetic")
    else:
        ids = registry.resolve_datasets(args.datasets)
    outcomes = fetch_datasets([registry.dataset(i) for i in ids])
    failed = [i for i, outcome in outcomes.items() if outcome.startswith("error")]
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace, registry: Registry) -> int:
    """``report``: the static HTML page of the records, tables, figures and failures."""
    from benchmark.report import NoRecordsError, write_report

    kinds = {m.id: m.kind for m in registry.methods.values()}
    names = {m.id: m.name for m in registry.methods.values()}
    to = args.to or Path(args.out) / "report"
    try:
        page = write_report(args.out, to, kinds, names)
    except NoRecordsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {page}; open it in a browser (works offline)")
    return 0


def cmd_plot(args: argparse.Namespace, registry: Registry) -> int:
    """``plot``: the figures of the records of --out (matplotlib is imported here only)."""
    from benchmark.figures.plots import deep_method_ids, make_figures, select_records

    store = Store(args.out)
    records = store.records()
    if not records:
        print(
            f"error: no records in {store.records_dir}; run tasks first "
            f"(python -m benchmark run --out {args.out})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    for method_id in args.methods or ():
        registry.method(method_id)
    for dataset_id in args.datasets or ():
        registry.dataset(dataset_id)
    selected = select_records(records, args.methods, args.datasets, args.seeds)
    if not selected:
        print(f"error: no ok record in {store.records_dir} matches the selection", file=sys.stderr)
        return EXIT_USAGE
    to = Path(args.to) if args.to else store.root / "figures"
    outcome = make_figures(
        selected,
        store.root,
        to,
        kinds=args.kind or KINDS,
        names={m.id: m.name for m in registry.methods.values()},
        deep_methods=deep_method_ids(registry, {r["method"] for r in selected}),
        every_seed=args.seeds is not None,
        report=lambda png: print(f"wrote {png} (and .svg)", flush=True),
    )
    print(f"{len(outcome.written)} figure(s) in {to}")
    for kind, why in outcome.empty.items():
        print(f"{'error' if args.kind else 'note'}: no {kind} figure: {why}", file=sys.stderr)
    for problem in outcome.problems:
        print(f"error: {problem}", file=sys.stderr)
    failed = outcome.problems or (args.kind and outcome.empty)
    return 1 if failed else 0


COMMANDS = {
    "run": cmd_run, "table": cmd_table, "list": cmd_list,
    "status": cmd_status, "fetch": cmd_fetch, "verify": cmd_verify, "tuning": cmd_tuning,
    "plot": cmd_plot,
    "report": cmd_report,
    "cache": cache_cli.cmd_cache,
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for usage errors such as unknown ids)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["perf"]:
        from benchmark.perf import main as perf_main

        return perf_main(argv[1:])
    args = build_parser().parse_args(argv)
    _apply_data_locations(args)
    try:
        registry = Registry(args.plugins)
        return COMMANDS[args.command](args, registry)
    except (UnknownPluginError, GridError, PluginLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
