"""Rerun committed records and compare their metrics (``python -m benchmark verify``).

Each chosen record (status ``ok``) becomes its task again, runs in a fresh child process
of the local executor with its output in a temporary folder (never over the committed
records), and its metrics are compared with the recorded ones:

* **exact** when the record ran on the CPU and states its BLAS thread count
  (``provenance.threads.blas``): the rerun gets the same count, and the same task id,
  code, thread count and kind of CPU must give the same labels, hence the same metrics
  bit for bit;
* **within ``tolerance``** (absolute, per metric) otherwise: records without a thread
  count (made before records stated it) rerun at the executor's default count, GPU
  records rerun wherever this command runs, and records whose ``provenance.cpu`` names
  another CPU than the rerun's (another vector width: torch and BLAS dispatch other
  kernels, which sum in another order; training amplifies the last bits) are compared
  within the tolerance, the line naming both CPUs. Records made before records named
  their CPU are compared exactly, and a ``differs`` line says that the CPU is unknown.
  A ``differs`` line also says when the rerun's input (``input_digest``, the features the
  method saw) is not the record's: a feature cache built on another CPU, say.

The deep methods' trained artefacts (pretrained auto-encoders, fine-tuned C, ClusterGAN
and LRSC trainings) are not reused: the reruns read and write them in an empty folder of
their own (``$SUBSPACE_BENCH_ARTIFACTS``), so a deep record is checked by training it
again. ``reuse_artifacts`` turns that off (then only the readout of a cached training is
rerun: quick, but no check of the training).

``sample`` picks the cheapest records first (by recorded fit time, a readout variant
at its training's time; ties by task id), so
a small sample is a quick check that the code still makes the committed numbers.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.deep.artifact_cache import ARTIFACTS_ENV
from benchmark.executors.local import KILLED, THREAD_VARIABLES, LocalExecutor
from benchmark.registry import Registry, UnknownPluginError
from benchmark.store import Store
from benchmark.tasks import Task

METRICS = ("acc", "nmi", "ari")
KERNEL_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
)
"""Variables that make OpenBLAS, torch, oneDNN or MKL use other kernels than this CPU's
own: reruns inherit them, and a verdict names those set (OPENBLAS_CORETYPE=SandyBridge
reruns bit for bit the SSC-OMP records of a machine whose OpenBLAS chose those kernels)."""
DEFAULT_TOLERANCE = 0.01
"""Largest absolute difference per metric accepted when a rerun cannot be exact."""


@dataclass
class Check:
    """One record's verdict: ``matched``, ``differs`` or ``error`` (could not rerun)."""

    record: dict[str, Any]
    verdict: str
    mode: str  # "exact at N threads" or "tolerance ±T"
    rerun: dict[str, Any] | None = None
    detail: str = ""

    @property
    def label(self) -> str:
        """``method[variant]/dataset/n=/seed=`` of the record."""
        return record_label(self.record)

    def line(self) -> str:
        """One printable line with both values of every metric."""
        head = f"{self.verdict:8s} {self.record['task_id']} {self.label} ({self.mode})"
        if self.rerun is None or self.rerun.get("status") != "ok":
            return f"{head}: {self.detail}"
        old, new = self.record["metrics"], self.rerun["metrics"]
        values = ", ".join(
            f"{m} {old[m]:.6f} {'=' if old[m] == new[m] else '->'} {new[m]:.6f}" for m in METRICS
        )
        return f"{head}: {values}"


def record_label(record: dict[str, Any]) -> str:
    """``method[variant]/dataset/n=/seed=`` of ``record``."""
    r = record
    variant = f"[{r['variant']}]" if r.get("variant") else ""
    return f"{r['method']}{variant}/{r['dataset']}/n={r['n_points']}/seed={r['seed']}"


def _cpu_provenance(record: dict[str, Any]) -> dict[str, Any]:
    """The record's provenance when it ran on the CPU, else an empty dict."""
    provenance = record.get("provenance") or {}
    return provenance if provenance.get("device", "cpu") == "cpu" else {}


def recorded_threads(record: dict[str, Any]) -> int | None:
    """The record's BLAS thread count, when it ran on the CPU and states one."""
    threads = (_cpu_provenance(record).get("threads") or {}).get("blas")
    return int(threads) if threads else None


def select_records(
    records: Sequence[dict[str, Any]],
    methods: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    sample: int | None = None,
    sizes: Sequence[int] | None = None,
    hours: float | None = None,
    skip: Collection[str] = (),
    task_ids: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """The ``ok`` records of the given methods, datasets, sizes (``n_points``) and task
    ids but those whose task id is in ``skip``, cheapest first; ``sample``: the K cheapest of them;
    ``hours``: the cheapest whose reruns fit in that many recorded hours (each training
    counted once: a training's readout variants rerun together)."""
    chosen = [
        r
        for r in records
        if r.get("status") == "ok"
        and r["task_id"] not in skip
        and (not task_ids or r["task_id"] in task_ids)
        and (not methods or r["method"] in methods)
        and (not datasets or r["dataset"] in datasets)
        and (not sizes or r["n_points"] in sizes)
    ]
    cost = rerun_costs(records)
    chosen.sort(key=lambda r: (cost[r["task_id"]], r["task_id"]))
    if sample is not None:
        if sample < 1:
            raise ValueError(f"--sample must be >= 1, got {sample}")
        chosen = chosen[:sample]
    if hours is not None:
        if not hours > 0:
            raise ValueError(f"--hours must be > 0, got {hours}")
        chosen = _within_budget(chosen, cost, hours * 3600)
    return chosen


def _within_budget(
    ordered: Sequence[dict[str, Any]], cost: dict[str, float], seconds: float
) -> list[dict[str, Any]]:
    """The leading records of ``ordered`` whose trainings' costs add up to ``seconds``."""
    spent, trainings, kept = 0.0, set(), []
    for record in ordered:
        key = training_key(record)
        if key not in trainings:
            if spent + cost[record["task_id"]] > seconds:
                break
            spent += cost[record["task_id"]]
            trainings.add(key)
        kept.append(record)
    return kept


def rerun_costs(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Each record's rerun cost in recorded seconds: the longest fit among the records of
    its method, dataset, size and seed. A readout variant (``post``, ``argmax``) records
    only its readout's time, but its rerun trains again unless a sibling's rerun left
    the training behind, so it costs what the training costs."""
    ok = [r for r in records if r.get("status") == "ok"]
    longest: dict[tuple, float] = {}
    for r in ok:
        fit = r.get("fit_time_s")
        key = training_key(r)
        longest[key] = max(longest.get(key, 0.0), math.inf if fit is None else float(fit))
    return {r["task_id"]: longest[training_key(r)] for r in ok}


def training_key(record: dict[str, Any]) -> tuple:
    """What the readout variants of one training share: method, dataset, size, seed."""
    return tuple(record.get(field) for field in ("method", "dataset", "n_points", "seed"))


def staggered(
    members: Sequence[tuple[dict[str, Any], Task]], jobs: int
) -> list[tuple[dict[str, Any], Task]]:
    """``members`` in an order where ``jobs`` reruns at once do not train the same thing
    twice: the first readout of each of ``jobs`` trainings, then their other readouts, then
    the next ``jobs`` trainings. Run side by side, two readouts of one training would both
    wait for the one training (its cache entry is locked), leaving a worker idle for the
    whole training. Order is kept otherwise; ``jobs`` 1 changes nothing."""
    if jobs <= 1:
        return list(members)
    by_training: dict[tuple, list[tuple[dict[str, Any], Task]]] = {}
    for member in members:
        by_training.setdefault(training_key(member[0]), []).append(member)
    trainings = list(by_training.values())
    ordered: list[tuple[dict[str, Any], Task]] = []
    for start in range(0, len(trainings), jobs):
        batch = trainings[start : start + jobs]
        ordered += [readouts[0] for readouts in batch]
        ordered += [member for readouts in batch for member in readouts[1:]]
    return ordered


def task_of(record: dict[str, Any], registry: Registry) -> Task:
    """The task that made ``record``, with today's plugin paths; its id must be the record's."""
    registry.method(record["method"])  # UnknownPluginError names the known ids
    declared = registry.dataset(record["dataset"]).params
    missing = sorted(set(declared) - set(record["dataset_params"]))
    if missing:
        raise ValueError(
            f"the record predates the {record['dataset']} parameter(s) {', '.join(missing)}: "
            "today's loader needs them and the record does not say what they were, so its "
            "task cannot be rebuilt; make a record of today's task with `run` instead"
        )
    meta = record.get("meta_source")
    if meta is not None:  # part of the identity only where the method learns from meta data
        meta_fields = {
            "meta_source": meta,
            "meta_path": registry.ref("dataset", meta["dataset"]).path,
        }
    else:
        meta_fields = {}
    implicit = record.get("implicit_params") or {}
    task = Task(
        method=record["method"],
        dataset=record["dataset"],
        n_points=int(record["n_points"]),
        seed=int(record["seed"]),
        variant=record.get("variant") or "",
        params={**record["params"], **implicit},
        identity_omits=tuple(implicit),
        dataset_params=record["dataset_params"],
        method_path=registry.ref("method", record["method"]).path,
        dataset_path=registry.ref("dataset", record["dataset"]).path,
        param_sources=record.get("param_sources") or {},
        memory_estimate_mb=record.get("memory_estimate_mb"),
        **meta_fields,
    )
    if task.task_id != record["task_id"]:
        raise ValueError(
            f"the record's configuration hashes to {task.task_id}, not its id "
            f"{record['task_id']}: the record was edited or made by a different task scheme"
        )
    return task


def recorded_cpu(record: dict[str, Any]) -> dict[str, Any] | None:
    """The CPU a record ran on (``provenance.cpu``), ``None`` for GPU records and for
    records made before records named their CPU."""
    return _cpu_provenance(record).get("cpu")


def kernel_choice() -> dict[str, str]:
    """The ``KERNEL_VARIABLES`` set in this environment (reruns inherit them)."""
    return {name: os.environ[name] for name in KERNEL_VARIABLES if os.environ.get(name)}


def recorded_platform(record: dict[str, Any]) -> str | None:
    """The ``provenance.platform`` a record ran on (OS, kernel build, machine type): a
    machine's only trace in the records made before they named the CPU."""
    return (record.get("provenance") or {}).get("platform")


def cpu_label(cpu: dict[str, Any]) -> str:
    """``model [vector extension]`` of a recorded CPU."""
    return f"{cpu.get('model')} [{cpu.get('vector') or 'vector extension unknown'}]"


def compare(
    record: dict[str, Any], rerun: dict[str, Any], exact: bool, tolerance: float
) -> tuple[str, str]:
    """(verdict, detail) of a rerun against its record: a rerun stopped from outside (its
    time limit, a signal) is an ``error``, no evidence either way; one that failed or
    diverged by itself ``differs``."""
    if rerun.get("status") != "ok":
        error = (rerun.get("error") or "").strip()
        lines = error.splitlines() or [""]
        stopped = rerun.get("status") == "timeout" or error.startswith(KILLED)
        reason = lines[0] if stopped else lines[-1]  # the signal, or the exception's last line
        return ("error" if stopped else "differs"), f"rerun {rerun.get('status')}: {reason}"
    old, new = record["metrics"], rerun["metrics"]
    if exact:
        same = all(old[m] == new[m] for m in METRICS)
    else:
        same = all(abs(old[m] - new[m]) <= tolerance for m in METRICS)
    return ("matched" if same else "differs"), ""


def thread_variables(record: dict[str, Any]) -> dict[str, str] | None:
    """The thread variables the record's task ran with (``None``: it states no BLAS count).

    Each of ``THREAD_VARIABLES`` as the record's environment had it, else the BLAS count:
    a task run with ``OMP_NUM_THREADS=1`` and two BLAS threads reruns that way (k-means'
    OpenMP sums, like BLAS's, split by thread)."""
    threads = recorded_threads(record)
    if threads is None:
        return None
    env = (record["provenance"].get("threads") or {}).get("env") or {}
    return {name: str(env.get(name) or threads) for name in THREAD_VARIABLES}


@contextlib.contextmanager
def child_environment(variables: dict[str, str]) -> Iterator[None]:
    """Set environment ``variables`` that children inherit, restored afterwards."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        os.environ.update(variables)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def verify(
    records: Sequence[dict[str, Any]],
    registry: Registry,
    tolerance: float = DEFAULT_TOLERANCE,
    jobs: int = 1,
    timeout_min: float | None = None,
    work_dir: str | os.PathLike | None = None,
    report: Callable[[Check], None] | None = None,
    reuse_artifacts: bool = False,
) -> list[Check]:
    """Rerun ``records`` in fresh processes and compare; ``report`` sees each verdict as
    soon as its rerun ends.

    Reruns write into ``work_dir`` (default: a temporary folder, removed afterwards), their
    deep artefacts into its ``artifacts/`` unless ``reuse_artifacts``. Records are run in
    groups of equal recorded thread count.
    """
    checks: list[Check] = []

    def done(check: Check) -> None:
        checks.append(check)
        if report is not None:
            report(check)

    groups: dict[tuple | None, list[tuple[dict[str, Any], Task]]] = {}
    for record in records:
        try:
            task = task_of(record, registry)
        except (UnknownPluginError, KeyError, ValueError) as exc:
            done(Check(record, "error", "not rerun", detail=str(exc)))
            continue
        variables = thread_variables(record)
        key = None if variables is None else tuple(sorted(variables.items()))
        groups.setdefault(key, []).append((record, task))
    owned = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="benchmark-verify-") if owned else work_dir)
    try:
        store = Store(root)
        own_artifacts = {} if reuse_artifacts else {ARTIFACTS_ENV: str(root / "artifacts")}
        for key, members in groups.items():
            variables = dict(key or ())
            members = staggered(members, jobs)
            executor = LocalExecutor(jobs=jobs, timeout_min=timeout_min, progress=False)
            with child_environment({**variables, **own_artifacts}):
                _rerun_group(members, variables if key else None, executor, store, tolerance, done)
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
    return checks


def _rerun_group(
    members: Sequence[tuple[dict[str, Any], Task]],
    variables: dict[str, str] | None,
    executor: LocalExecutor,
    store: Store,
    tolerance: float,
    done: Callable[[Check], None],
) -> None:
    """Rerun one group's tasks (same thread ``variables``; ``None``: not recorded, so
    compare within ``tolerance``) and pass each verdict to ``done`` as its rerun ends."""
    exact_threads = variables is not None
    tolerance_mode = f"tolerance ±{tolerance:g}"
    exact_mode = tolerance_mode
    if exact_threads:
        exact_mode = "exact at " + ", ".join(f"{k}={v}" for k, v in sorted(variables.items()))
    kernels = kernel_choice()
    if kernels:
        chosen = ", ".join(f"{k}={v}" for k, v in sorted(kernels.items()))
        tolerance_mode += f"; kernels {chosen}"
        exact_mode += f"; kernels {chosen}"
    waiting = {task.task_id: record for record, task in members}

    def judge(rerun: dict[str, Any]) -> None:
        record = waiting.pop(rerun["task_id"], None)
        if record is None:
            return
        cpus = recorded_cpu(record), recorded_cpu(rerun)
        other_cpu = None not in cpus and cpus[0] != cpus[1]
        exact = exact_threads and not other_cpu
        mode = exact_mode if exact else tolerance_mode
        if other_cpu:
            mode += f"; recorded on {cpu_label(cpus[0])}, rerun on {cpu_label(cpus[1])}"
        verdict, detail = compare(record, rerun, exact, tolerance)
        if verdict == "differs" and exact and cpus[0] is None:
            mode += "; the record names no CPU, so it may come from another kind of CPU"
            platforms = recorded_platform(record), recorded_platform(rerun)
            if None not in platforms and platforms[0] != platforms[1]:
                mode += f" (it ran on {platforms[0]}, the rerun on {platforms[1]})"
        inputs = record.get("input_digest"), rerun.get("input_digest")
        if verdict == "differs" and None not in inputs and inputs[0] != inputs[1]:
            mode += f"; its input differs from the record's (digest {inputs[0]} -> {inputs[1]})"
        done(Check(record, verdict, mode, rerun, detail))

    executor.run([task for _, task in members], store, on_record=judge)
    for task_id in list(waiting):  # not run: its rerun record was there already
        rerun = store.read_record(task_id)
        if rerun is None:
            done(Check(waiting.pop(task_id), "error", exact_mode, detail="no rerun record"))
        else:
            judge(rerun)
