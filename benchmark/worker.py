"""Run one task in the current process and write its record (``run_task``).

Every executor ends up here: the local executor in a fresh child process
(``python -m benchmark.worker``), the SLURM executor inside an array job, the debug
executor in-process. The trip: re-load both plugins from their paths, load the data,
check the memory estimate, fit, score, keep a deep fit's figure data
(:mod:`benchmark.figures.data`), write the record.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import inspect
import json
import logging
import math
import os
import random
import resource
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import threadpoolctl

from benchmark.data.home import MAKER_ENV
from benchmark.deep.artifact_cache import array_digest
from benchmark.meta import load_meta_data
from benchmark.plugins import DivergenceError, MethodInfo, SourceError, tuning_of
from benchmark.provenance import provenance
from benchmark.registry import PluginRef, load_plugin
from benchmark.store import HEARTBEAT_INTERVAL_S, SCHEMA_VERSION, Store
from benchmark.tasks import Task

PR_SET_PDEATHSIG = 1


class MemoryBudgetError(MemoryError):
    """The method's own estimate of its peak memory exceeds the budget."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _tuning(sources: dict[str, str]) -> dict[str, str]:
    """``tuning`` from the parameter sources; ``unknown`` with the reason if one is unreadable."""
    try:
        return {"tuning": tuning_of(sources)}
    except SourceError as exc:
        return {"tuning": "unknown", "tuning_error": str(exc)}


def base_record(task: Task, attempt_id: str, log_path: str | None = None) -> dict[str, Any]:
    """The fields every record has, whatever its status (status left as ``failed``)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "task_id": task.task_id,
        "attempt_id": attempt_id,
        **task.identity(),
        "implicit_params": {name: task.params[name] for name in task.identity_omits},
        "param_sources": task.param_sources,
        **_tuning(task.param_sources),
        "status": "failed",
        "metrics": None,
        "convergence": {"iterations": None, "converged": None, "objective": None},
        "wall_time_s": None,
        "fit_time_s": None,
        "peak_mem_mb": None,
        "memory_estimate_mb": task.memory_estimate_mb,
        "error": None,
        "fit_info": None,
        "log_path": log_path,
        "data_info": None,
        "input_digest": None,
        "meta_source": task.meta_source,
        "meta_data_info": None,
        "started_at": None,
        "finished_at": None,
        "machine_load": None,
        "provenance": None,
    }


def _load_1min() -> float | None:
    """The machine's 1-minute load average (``None`` where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class MachineLoad:
    """How busy the machine was while a task ran: the 1-minute load average at the start,
    at the end and the highest seen in between (sampled at each heartbeat), beside the
    CPU count. A load above the CPU count means the task shared the CPUs (slower fit)."""

    def __init__(self) -> None:
        self.start = _load_1min()
        self.max = self.start

    def sample(self) -> float | None:
        """Take one reading and keep the highest."""
        load = _load_1min()
        if load is not None:
            self.max = load if self.max is None else max(self.max, load)
        return load

    def summary(self) -> dict[str, Any]:
        """The record's ``machine_load``: ``start``, ``end``, ``max`` and ``cpus``."""
        end = self.sample()
        return {"start": self.start, "end": end, "max": self.max, "cpus": os.cpu_count()}


@contextlib.contextmanager
def heartbeat(
    store: Store, task_id: str, on_beat: Callable[[], Any] | None = None, **info: Any
) -> Iterator[None]:
    """Keep the task's running marker fresh from a daemon thread while the block runs
    (calling ``on_beat`` at each beat)."""
    stop = threading.Event()
    store.mark_running(task_id, **info)

    def beat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            with contextlib.suppress(OSError):
                store.mark_running(task_id, **info)
            if on_beat is not None:
                on_beat()

    thread = threading.Thread(target=beat, name=f"heartbeat-{task_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        store.clear_running(task_id)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def init_parameters(estimator: type) -> set[str]:
    """The parameters an estimator class accepts: scikit-learn's ``_get_param_names``
    where it has it (it sees the whole hierarchy of the deep estimators, whose
    subclasses pass their base's parameters on with ``**base``), else its signature."""
    get_names = getattr(estimator, "_get_param_names", None)
    if get_names is not None:
        return set(get_names())
    return set(inspect.signature(estimator.__init__).parameters)


def _build_estimator(
    method: MethodInfo,
    task: Task,
    n_clusters: int,
    store: Store,
    meta_data: tuple[np.ndarray, np.ndarray] | None = None,
):
    estimator_class = method.estimator_class
    estimator_args = init_parameters(estimator_class)
    runtime: dict[str, Any] = {}
    if "checkpoint" in estimator_args:
        from benchmark.checkpoint import Checkpoint

        runtime["checkpoint"] = Checkpoint(store.checkpoint_path(task.task_id))
    if meta_data is not None:
        if "meta_data" not in estimator_args:
            raise TypeError(
                f"method {method.id!r} declares a meta source but its estimator's __init__ "
                f"takes no meta_data argument; add one or drop MethodInfo.meta"
            )
        runtime["meta_data"] = meta_data
    return estimator_class(n_clusters=n_clusters, random_state=task.seed, **task.params, **runtime)


def _json_safe(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain Python (for the record)."""

    def plain(item: Any) -> Any:
        return item.tolist() if hasattr(item, "tolist") else repr(item)

    return json.loads(json.dumps(value, default=plain))


def _has_nan(estimator: Any) -> bool:
    import scipy.sparse as sp  # here, not at the top: executors import this module at startup

    coef = getattr(estimator, "coef_", None)
    if coef is not None:
        values = coef.data if sp.issparse(coef) else np.asarray(coef)
        if not np.all(np.isfinite(values)):
            return True
    objective = getattr(estimator, "objective_", None)
    return objective is not None and not math.isfinite(float(objective))


def _convergence(estimator: Any) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return value.item() if isinstance(value, np.generic) else value

    return {
        "iterations": plain(getattr(estimator, "n_iter_", None)),
        "converged": plain(getattr(estimator, "converged_", None)),
        "objective": plain(getattr(estimator, "objective_", None)),
    }


def run_task(
    task: Task,
    out_dir: str,
    attempt_id: str | None = None,
    mem_budget_mb: float | None = None,
    marker_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``task`` here, write its record into ``out_dir`` and return it.

    Never raises for a failure of the method or the data: the failure is the record.
    """
    from benchmark.figures.data import figure_data, figure_data_path, save_figure_data
    from benchmark.metrics import score  # scikit-learn: imported by the task, not the CLI

    store = Store(out_dir)
    attempt_id = attempt_id or uuid.uuid4().hex
    os.environ[MAKER_ENV] = task.label  # cache entries made now record which task made them
    record = base_record(task, attempt_id, str(store.log_path(task.task_id)))
    record["started_at"] = _now()
    start = time.perf_counter()
    load = MachineLoad()
    marker = {"attempt_id": attempt_id, **(marker_info or {})}
    with heartbeat(store, task.task_id, on_beat=load.sample, **marker):
        try:
            method = load_plugin(PluginRef(task.method_path, task.method), "method")
            dataset = load_plugin(PluginRef(task.dataset_path, task.dataset), "dataset")
            dataset.check_size(task.n_points)
            # one BLAS thread while the data is prepared: features (TF-IDF -> SVD) and their
            # cache are then the same bits whatever thread count the task runs at
            with threadpoolctl.threadpool_limits(limits=1):
                bundle = dataset.load(task.n_points, task.seed, **task.dataset_params)
            record["data_info"] = bundle.info or None
            # the exact input bits (features can differ in the last bits between CPUs that
            # built them): lets `verify` tell a changed input from a changed computation
            record["input_digest"] = array_digest(bundle.X)[:16]
            estimate = float(method.memory_mb(len(bundle.y), bundle.X.shape[1]))
            record["memory_estimate_mb"] = estimate
            if mem_budget_mb is not None and estimate > mem_budget_mb:
                raise MemoryBudgetError(
                    f"{task.method} estimates {estimate / 1024:.1f} GiB for n={len(bundle.y)}, "
                    f"D={bundle.X.shape[1]}, over the memory budget of "
                    f"{mem_budget_mb / 1024:.1f} GiB: raise the budget (--mem-budget-gb; on SLURM, "
                    f"--mem-gb) or use a smaller size"
                )
            meta_data = None
            if task.meta_source is not None and task.meta_path is not None:
                meta_data, record["meta_data_info"] = load_meta_data(
                    task.meta_source, task.meta_path, method.view, task.seed
                )
            _seed_everything(task.seed)
            estimator = _build_estimator(method, task, bundle.n_clusters, store, meta_data)
            fit_start = time.perf_counter()
            estimator.fit(bundle.view(method.view))
            record["fit_time_s"] = time.perf_counter() - fit_start
            record["convergence"] = _convergence(estimator)
            record["fit_info"] = _json_safe(getattr(estimator, "fit_info_", None))
            labels = np.asarray(estimator.labels_)
            if _has_nan(estimator):
                record["status"] = "diverged"
                record["error"] = "non-finite coefficients or objective"
            else:
                record["metrics"] = score(bundle.y, labels)
                kept = figure_data(estimator, bundle.y, task.seed)  # deep methods: Figures 2-3
                if kept is not None:
                    save_figure_data(figure_data_path(out_dir, task.task_id), kept)
                record["status"] = "ok"
        except (DivergenceError, FloatingPointError):
            record["status"] = "diverged"
            record["error"] = traceback.format_exc()
        except Exception:
            record["status"] = "failed"
            record["error"] = traceback.format_exc()
        record["wall_time_s"] = time.perf_counter() - start
        record["peak_mem_mb"] = peak_memory_mb()
        record["finished_at"] = _now()
        record["machine_load"] = load.summary()
        record["provenance"] = provenance()
        store.write_record(record)
        if record["status"] == "ok":
            store.checkpoint_path(task.task_id).unlink(missing_ok=True)
    return record


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when the driver dies (no orphan workers)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the driver died before prctl took effect
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    """Child-process entry of the local executor: run one task given as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.worker")
    parser.add_argument("task_json")
    parser.add_argument("--out", required=True)
    parser.add_argument("--attempt", required=True)
    parser.add_argument("--parent-pid", type=int)
    parser.add_argument("--mem-budget-mb", type=float)
    parser.add_argument("--mem-limit-mb", type=float, help="hard address-space limit")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stdout
    )
    if args.parent_pid is not None:
        _die_with_parent(args.parent_pid)
    if args.mem_limit_mb is not None:
        limit = int(args.mem_limit_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    task = Task.from_dict(json.loads(args.task_json))
    record = run_task(task, args.out, args.attempt, args.mem_budget_mb)
    print(f"{task.label}: {record['status']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
