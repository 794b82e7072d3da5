"""The ledger of ``verify`` verdicts: which records a rerun has matched, under which code.

Rerunning every committed record takes as long as making them (hours of training for the
deep cells), so ``verify`` runs in groups over several sittings. Each verdict is appended
to ``<out>/verify/ledger.jsonl`` the moment it is reached (a killed ``verify`` keeps what
it finished). An entry names

* the record by a digest of its content, so a regenerated record (same task id, new run)
  is a different record and needs its own check;
* the code by the sources the rerun loaded (``provenance.sources`` of the rerun record:
  the engine modules and plugin files it imported, with their digest), so a match stays
  a match under today's code as long as those files are unchanged, whatever else was
  edited (the CLI, ``verify``, tables); and by the git commit where there is one.
  Entries older than that field carry a digest of every runtime source instead
  (:func:`code_digest`), and count as current only while no runtime source changed.

:func:`coverage` tells, per method, how many of the current records have matched under
the current code, matched only under older code, differed, or were never checked, and
how long rerunning the rest would take.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmark.provenance import SOURCE_DIRS, source_digest
from benchmark.registry import PROJECT_ROOT
from benchmark.verify import rerun_costs, training_key

LEDGER_NAME = Path("verify") / "ledger.jsonl"
STATES = ("matched", "matched-older-code", "differs", "error", "not-verified")
"""A record's state from its latest entry: matched under the current code, matched under
other code, its latest rerun differed, could not be rerun, or no entry at all."""


def ledger_path(out_dir: str | os.PathLike) -> Path:
    """Where the ledger of the records in ``out_dir`` lives."""
    return Path(out_dir) / LEDGER_NAME


def record_digest(record: dict[str, Any]) -> str:
    """A digest of the record's whole content (canonical JSON)."""
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def code_digest(root: str | os.PathLike = PROJECT_ROOT) -> str:
    """A digest of every runtime source: each ``*.py`` in ``SOURCE_DIRS``, by path."""
    root = Path(root)
    paths = [
        path.relative_to(root).as_posix()
        for folder in SOURCE_DIRS
        for path in sorted((root / folder).rglob("*.py"))
    ]
    return source_digest(paths, root) or ""


def entry(
    record: dict[str, Any],
    verdict: str,
    mode: str,
    rerun_metrics: dict[str, float] | None,
    code: str,
    commit: str | None,
    code_files: Sequence[str] | None = None,
    rerun_cpu: dict[str, Any] | None = None,
    rerun_kernels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One ledger line for a verdict on ``record``; ``code`` is the digest of
    ``code_files`` (the sources the rerun loaded) or, without them, :func:`code_digest`;
    ``rerun_cpu``: the rerun's ``provenance.cpu``; ``rerun_kernels``: the kernel-choosing
    variables the rerun ran under (:func:`benchmark.verify.kernel_choice`)."""
    return {
        "task_id": record["task_id"],
        "record_digest": record_digest(record),
        "method": record["method"],
        "variant": record.get("variant") or "",
        "dataset": record["dataset"],
        "n_points": record["n_points"],
        "seed": record["seed"],
        "verdict": verdict,
        "mode": mode,
        "recorded": record.get("metrics"),
        "rerun": rerun_metrics,
        "code_digest": code,
        "code_files": list(code_files) if code_files is not None else None,
        "commit": commit,
        "rerun_cpu": rerun_cpu,
        "rerun_kernels": rerun_kernels or {},
        "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def append(out_dir: str | os.PathLike, line: dict[str, Any]) -> None:
    """Append one entry to the ledger (one ``write`` of one line, flushed to disk).

    After a line that a kill cut off, the entry starts on a line of its own, so that
    the torn line cannot swallow it."""
    path = ledger_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(line, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The ledger's entries in order. A line that is not JSON is skipped: silently when it
    is the last (a kill mid-write), with a warning naming it anywhere else."""
    path = ledger_path(out_dir)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = []
    for number, text in enumerate(lines, start=1):
        try:
            entries.append(json.loads(text))
        except json.JSONDecodeError:
            if number < len(lines):
                warnings.warn(
                    f"{path}, line {number}, is not a ledger entry (cut off by a kill or "
                    "edited by hand); skipped. Mend or delete that line.",
                    stacklevel=2,
                )
    return entries


def record_states(
    records: Iterable[dict[str, Any]],
    entries: Sequence[dict[str, Any]],
    code: str,
    root: str | os.PathLike = PROJECT_ROOT,
) -> dict[str, str]:
    """Task id → state (one of ``STATES``) of each record, from its own entries.

    A record counts as ``matched`` when any entry under the current code matched it
    (a later check under other code does not undo that); otherwise its latest entry
    decides. An entry is under the current code when the files it names hash today to
    its digest, or, for an entry without files, when its digest is ``code`` (the digest
    of every runtime source, :func:`code_digest`)."""
    by_digest = _by_record(entries)
    current = _under_current_code(code, root)
    states = {}
    for record in records:
        own = by_digest.get(record_digest(record), [])
        if any(e["verdict"] == "matched" and current(e) for e in own):
            states[record["task_id"]] = "matched"
        elif not own:
            states[record["task_id"]] = "not-verified"
        else:
            latest = own[-1]["verdict"]
            states[record["task_id"]] = "matched-older-code" if latest == "matched" else latest
    return states


def known_differences(
    records: Iterable[dict[str, Any]],
    entries: Sequence[dict[str, Any]],
    code: str,
    cpu: dict[str, Any] | None,
    kernels: dict[str, str] | None = None,
    root: str | os.PathLike = PROJECT_ROOT,
) -> set[str]:
    """Task ids of the records whose latest entry differs, reached under the current code on
    ``cpu`` (the entry's ``rerun_cpu``) with the same ``kernels`` variables: a rerun here
    would only repeat it. Entries that name no CPU (written before entries named it) never
    count."""
    by_digest = _by_record(entries)
    current = _under_current_code(code, root)
    known = set()
    for record in records:
        own = by_digest.get(record_digest(record), [])
        if not own:
            continue
        latest = own[-1]
        same_kernels = (latest.get("rerun_kernels") or {}) == (kernels or {})
        same_machine = latest.get("rerun_cpu") == cpu and same_kernels
        if latest["verdict"] == "differs" and same_machine and current(latest):
            known.add(record["task_id"])
    return known


def _by_record(entries: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Ledger entries by the digest of the record they judged, in ledger order."""
    by_digest: dict[str, list[dict[str, Any]]] = {}
    for line in entries:
        by_digest.setdefault(line["record_digest"], []).append(line)
    return by_digest


def _under_current_code(code: str, root: str | os.PathLike) -> Callable[[dict[str, Any]], bool]:
    """A test of whether an entry was reached under today's code: the files it names hash
    today to its digest or, for an entry without files, its digest is ``code``."""
    today: dict[tuple[str, ...], str | None] = {}

    def current(line: dict[str, Any]) -> bool:
        files = line.get("code_files")
        if files is None:
            return line["code_digest"] == code
        key = tuple(files)
        if key not in today:
            today[key] = source_digest(files, root)
        return today[key] == line["code_digest"]

    return current


def coverage(records: Sequence[dict[str, Any]], states: dict[str, str]) -> list[dict[str, Any]]:
    """Per method: the number of ok records in each state (``states``: task id → state,
    from :func:`record_states`), ``rerun_h`` (recorded hours to rerun those not matched
    under the current code, each training counted once: the readout variants of one
    training rerun together), and a ``total`` row."""
    ok = [r for r in records if r.get("status") == "ok"]
    cost = rerun_costs(ok)
    rows: dict[str, dict[str, Any]] = {}
    trainings: dict[str, dict[tuple, float]] = {}
    for record in ok:
        method = record["method"]
        row = rows.setdefault(
            method, {"method": method, "records": 0, **dict.fromkeys(STATES, 0), "rerun_h": 0.0}
        )
        row["records"] += 1
        row[states[record["task_id"]]] += 1
        if states[record["task_id"]] != "matched":
            trainings.setdefault(method, {})[training_key(record)] = cost[record["task_id"]]
    for method, row in rows.items():
        row["rerun_h"] = round(sum(trainings.get(method, {}).values()) / 3600, 1)
    ordered = [rows[m] for m in sorted(rows)]
    total = {"method": "total", "records": len(ok)}
    total.update({s: sum(row[s] for row in ordered) for s in (*STATES, "rerun_h")})
    total["rerun_h"] = round(total["rerun_h"], 1)
    return [*ordered, total]
