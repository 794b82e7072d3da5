"""Put kept reruns in place of the committed records they differ from (``verify --adopt``).

A record made on one machine may not rerun bit for bit on another: torch and BLAS pick
their kernels by instruction set, and training amplifies the last bits. To move a
campaign onto this machine, ``verify --keep DIR`` reruns its records into ``DIR`` and
writes each verdict to the ledger; ``verify --adopt DIR`` then replaces every committed
record whose ledger verdict is ``differs`` by the kept rerun that this verdict judged
(same task and configuration, status ``ok``, the metrics the ledger recorded for the
rerun), with its log and figure data. The replaced records are new records: a second
rerun (``verify --tasks ...``) checks that the current code makes them again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.figures.data import figure_data_path
from benchmark.store import Store
from benchmark.verify import record_label
from benchmark.verify_ledger import record_digest

IDENTITY = (
    "task_id",
    "method",
    "variant",
    "dataset",
    "n_points",
    "seed",
    "params",
    "dataset_params",
)
"""Fields a kept rerun must share with the committed record it replaces."""


@dataclass
class Adoption:
    """What became of one kept rerun: ``adopted``, ``unchanged`` (same metrics as the
    committed record) or ``refused`` (``detail`` says why)."""

    task_id: str
    label: str
    outcome: str
    detail: str


def _judged_rerun(
    committed: dict[str, Any], kept: dict[str, Any], entries: Sequence[dict[str, Any]]
) -> bool:
    """Whether the ledger holds a ``differs`` verdict on ``committed`` whose rerun gave
    ``kept``'s metrics."""
    digest = record_digest(committed)
    return any(
        line.get("record_digest") == digest
        and line.get("verdict") == "differs"
        and line.get("rerun") == kept.get("metrics")
        for line in entries
    )


def _examine(
    committed: dict[str, Any] | None, kept: dict[str, Any], entries: Sequence[dict[str, Any]]
) -> tuple[str, str]:
    """The outcome of adopting ``kept`` over ``committed`` and why."""
    if committed is None:
        return "refused", "no committed record of this task in --out"
    if kept.get("status") != "ok":
        return "refused", f"the kept rerun's status is {kept.get('status')!r}, not 'ok'"
    mismatched = [f for f in IDENTITY if committed.get(f) != kept.get(f)]
    if mismatched:
        differing = ", ".join(mismatched)
        return "refused", f"not a rerun of the committed record: {differing} differ"
    if committed.get("metrics") == kept.get("metrics"):
        return "unchanged", "same metrics as the committed record: nothing to replace"
    if not _judged_rerun(committed, kept, entries):
        return "refused", (
            "the ledger holds no 'differs' verdict on the committed record with these "
            "metrics: run verify --keep DIR on it first"
        )
    old, new = committed["metrics"]["acc"], kept["metrics"]["acc"]
    return "adopted", f"acc {old:.6f} -> {new:.6f}"


def _put_in_place(out: Store, keep_dir: Path, kept: dict[str, Any]) -> None:
    """Copy ``kept`` with its log and figure data into ``out`` (record last)."""
    task_id = kept["task_id"]
    record = dict(kept)
    log = out.log_path(task_id)
    kept_log = Path(kept["log_path"]) if kept.get("log_path") else None
    if kept_log is not None and kept_log.is_file():
        log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kept_log, log)
    record["log_path"] = str(log)
    source, target = figure_data_path(keep_dir, task_id), figure_data_path(out.root, task_id)
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    else:  # the old record's figure data would no longer match its record
        target.unlink(missing_ok=True)
    out.write_record(record)


def adopt(
    out_dir: str | os.PathLike,
    keep_dir: str | os.PathLike,
    entries: Sequence[dict[str, Any]],
) -> list[Adoption]:
    """Replace each record of ``out_dir`` by its kept rerun in ``keep_dir`` where the
    ledger ``entries`` judged that rerun ``differs``; one :class:`Adoption` per kept
    record, by task id. Nothing else in ``out_dir`` changes."""
    out = Store(Path(out_dir).resolve())
    keep_dir = Path(keep_dir).resolve()
    kept_records = Store(keep_dir).records()
    if not kept_records:
        raise FileNotFoundError(f"no records in {keep_dir / 'records'} (a verify --keep folder)")
    adoptions = []
    for kept in sorted(kept_records, key=lambda r: r["task_id"]):
        committed = out.read_record(kept["task_id"])
        outcome, detail = _examine(committed, kept, entries)
        if outcome == "adopted":
            _put_in_place(out, keep_dir, kept)
        adoptions.append(Adoption(kept["task_id"], record_label(kept), outcome, detail))
    return adoptions
