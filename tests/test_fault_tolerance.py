"""Concurrency and kills: several writers on one output folder, writers killed mid-write,
builders of one cache entry racing (as SLURM array tasks on a shared filesystem do).

The invariant under test: a file at a record's final name is always a complete record;
no finished record is lost; a lock holder that dies never blocks the others.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from benchmark.atomic import TMP_PREFIX, atomic_write, file_lock
from benchmark.data.cache import cached_arrays
from benchmark.registry import Registry
from benchmark.runner import plan
from benchmark.store import STATUSES, Store
from benchmark.tasks import expand_grid
from benchmark.worker import base_record

REPO = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).parent / "plugins"
FORK = multiprocessing.get_context("fork")


def probe_task(seed: int = 0):
    return expand_grid(Registry([PLUGINS]), ["probe"], ["synthetic"], [100], [seed])[0]


RECORD_KEYS = set(base_record(probe_task(), "any attempt"))
"""The fields every record has, whatever its status."""


def final_record_files(out: Path) -> list[Path]:
    records = out / "records"
    if not records.is_dir():
        return []
    return [p for p in records.glob("*.json") if not p.name.startswith(TMP_PREFIX)]


def assert_complete(path: Path) -> dict:
    """The file at a record's final name parses and holds a whole record."""
    record = json.loads(path.read_text())
    assert set(record) >= RECORD_KEYS, f"{path.name} lacks {RECORD_KEYS - set(record)}"
    assert record["task_id"] == path.stem and record["status"] in STATUSES
    return record


class RecordWatcher(threading.Thread):
    """Reads every final-named record file in a loop while writers run; keeps any failure."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.out, self.stop, self.reads, self.errors = out, threading.Event(), 0, []

    def run(self) -> None:
        while not self.stop.wait(0.005):  # leave the CPUs to the writers
            for path in final_record_files(self.out):
                try:
                    text = path.read_text()
                except FileNotFoundError:
                    continue
                try:
                    assert_complete_text(path, text)
                    self.reads += 1
                except (AssertionError, ValueError) as exc:
                    self.errors.append(f"{path.name}: {exc!r}")


def assert_complete_text(path: Path, text: str) -> None:
    record = json.loads(text)
    assert set(record) >= RECORD_KEYS and record["task_id"] == path.stem
    payload = record.get("payload")
    if payload is not None:  # records of the synthetic writers below
        assert payload == record["writer"] * len(payload)


def test_two_drivers_on_one_out_lose_and_corrupt_no_record(tmp_path):
    out = tmp_path / "out"
    grid = ["--plugins", str(PLUGINS), "--methods", "probe", "--datasets", "synthetic",
            "--sizes", "100", "--set", "probe.mode=sleep", "--set", "probe.step_s=0.2",
            "--out", str(out)]  # fmt: skip
    watcher = RecordWatcher(out)
    watcher.start()
    drivers = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmark", "run", *grid, "--seeds", seeds],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for seeds in ("0,1,2", "1,2,3")  # both drivers run seeds 1 and 2
    ]
    errors = [driver.communicate(timeout=180)[1] for driver in drivers]
    watcher.stop.set()
    watcher.join()
    assert all(driver.returncode == 0 for driver in drivers), errors
    assert not watcher.errors and watcher.reads > 0
    records = [assert_complete(path) for path in final_record_files(out)]
    assert sorted(r["seed"] for r in records) == [0, 1, 2, 3]  # one record per task
    assert all(r["status"] == "ok" for r in records)
    assert not [p for p in (out / "records").iterdir() if p.name.startswith(TMP_PREFIX)]
    assert not Store(out).running()


def _write_records_forever(out: str, writer: str, task_ids: list[str], size: int) -> None:
    store = Store(out)
    template = {key: None for key in RECORD_KEYS}
    while True:
        for task_id in task_ids:
            record = {**template, "task_id": task_id, "status": "ok", "writer": writer}
            record["payload"] = writer * size
            store.write_record(record)


def test_concurrent_writers_of_the_same_records_never_expose_a_partial_one(tmp_path):
    out = tmp_path / "out"
    task_ids = [f"{i:016x}" for i in range(8)]
    writers = [
        FORK.Process(target=_write_records_forever, args=(str(out), name, task_ids, 400_000))
        for name in ("a", "b")
    ]
    watcher = RecordWatcher(out)
    for process in writers:
        process.start()
    watcher.start()
    time.sleep(3.0)
    for process in writers:  # killed wherever they are, possibly mid-write
        process.kill()
        process.join()
    watcher.stop.set()
    watcher.join()
    assert not watcher.errors, watcher.errors[:3]
    assert watcher.reads > 20
    store = Store(out)
    assert sorted(r["task_id"] for r in store.records()) == task_ids  # none lost
    for task_id in task_ids:
        assert store.read_record(task_id)["writer"] in ("a", "b")


def _write_half_then_wait(path: str, ready: str) -> None:
    def write(handle) -> None:
        handle.write(b'{"task_id": "' + Path(path).stem.encode() + b'", "status": "o')
        handle.flush()
        Path(ready).touch()
        time.sleep(60)

    atomic_write(path, write)


def test_a_writer_killed_mid_write_leaves_the_old_record_and_no_valid_half(tmp_path):
    task = probe_task()
    store = Store(tmp_path / "out")
    old = base_record(task, "first attempt")
    store.write_record(old)
    ready = tmp_path / "ready"
    writer = FORK.Process(
        target=_write_half_then_wait, args=(str(store.record_path(task.task_id)), str(ready))
    )
    writer.start()
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    leftovers = [p for p in store.records_dir.iterdir() if p.name.startswith(TMP_PREFIX)]
    assert len(leftovers) == 1 and leftovers[0].read_bytes().endswith(b'"o')  # the half
    assert store.read_record(task.task_id)["attempt_id"] == "first attempt"
    assert [r["attempt_id"] for r in store.records()] == ["first attempt"]


def test_a_truncated_record_counts_as_missing_and_is_rerun(tmp_path):
    """A record cut short by anything else (a full disk, a copy) is never taken as done."""
    out = tmp_path / "out"
    grid = ["run", "--plugins", str(PLUGINS), "--methods", "probe", "--datasets", "synthetic",
            "--sizes", "100", "--seeds", "0,1", "--executor", "debug",
            "--out", str(out)]  # fmt: skip
    subprocess.run([sys.executable, "-m", "benchmark", *grid], cwd=REPO, check=True,
                   capture_output=True)  # fmt: skip
    store = Store(out)
    tasks = expand_grid(Registry([PLUGINS]), ["probe"], ["synthetic"], [100], [0, 1])
    cut = store.record_path(tasks[0].task_id)
    cut.write_bytes(cut.read_bytes()[: len(cut.read_bytes()) // 2])
    assert store.read_record(tasks[0].task_id) is None
    assert [t.task_id for t in plan(tasks, store).to_run] == [tasks[0].task_id]
    subprocess.run([sys.executable, "-m", "benchmark", *grid], cwd=REPO, check=True,
                   capture_output=True)  # fmt: skip
    assert_complete(cut)
    assert len(store.records()) == 2


def _random_kills_target(out: str, task_id: str) -> None:
    _write_records_forever(out, "k", [task_id], 2_000_000)


def test_writers_killed_at_random_moments_never_leave_a_partial_record(tmp_path):
    out = tmp_path / "out"
    task_id = "00000000000000aa"
    rng = random.Random(0)
    for _ in range(15):
        writer = FORK.Process(target=_random_kills_target, args=(str(out), task_id))
        writer.start()
        time.sleep(rng.uniform(0.05, 0.4))
        writer.kill()
        writer.join()
        for path in final_record_files(out):
            assert_complete_text(path, path.read_text())
    assert Store(out).read_record(task_id)["writer"] == "k"


def _increment_under_lock(counter: str, times: int) -> None:
    for _ in range(times):
        with file_lock(counter + ".lock"):
            value = int(Path(counter).read_text() or 0)
            time.sleep(0.001)  # widen the window a lost update would need
            Path(counter).write_text(str(value + 1))


def test_file_lock_serialises_read_modify_write_across_processes(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    workers = [FORK.Process(target=_increment_under_lock, args=(str(counter), 100)) for _ in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert int(counter.read_text()) == 200


def _build_cached(data_home: str, log: str, sleep_s: float, result: str) -> None:
    os.environ["SUBSPACE_BENCH_DATA"] = data_home

    def build() -> dict[str, np.ndarray]:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(sleep_s)
        return {"features": np.arange(12, dtype=np.float32).reshape(3, 4) * 2}

    arrays, digest = cached_arrays("race-test", {"source": "synthetic", "scale": 2}, build)
    np.save(result, np.asarray(arrays["features"]))


def test_two_tasks_building_one_cache_entry_build_it_once(tmp_path):
    log = tmp_path / "builds.log"
    builders = [
        FORK.Process(
            target=_build_cached,
            args=(str(tmp_path / "home"), str(log), 1.0, str(tmp_path / f"{name}.npy")),
        )
        for name in "ab"
    ]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join(timeout=60)
    assert [b.exitcode for b in builders] == [0, 0]
    assert len(log.read_text().split()) == 1  # the second waited, then read the entry
    expected = np.arange(12, dtype=np.float32).reshape(3, 4) * 2
    for name in "ab":
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), expected)


def test_a_builder_killed_mid_build_blocks_no_one_and_leaves_no_entry(tmp_path):
    log = tmp_path / "builds.log"
    home = str(tmp_path / "home")
    doomed = FORK.Process(target=_build_cached, args=(home, str(log), 60.0, str(tmp_path / "x")))
    doomed.start()
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    doomed.kill()  # holds the lock, mid-build
    doomed.join()
    survivor = FORK.Process(target=_build_cached, args=(home, str(log), 0.0, str(tmp_path / "b")))
    survivor.start()
    survivor.join(timeout=30)
    assert survivor.exitcode == 0  # the dead holder's lock was released by the kernel
    assert len(log.read_text().split()) == 2  # rebuilt, not read from a half entry
    np.testing.assert_array_equal(
        np.load(tmp_path / "b.npy"), np.arange(12, dtype=np.float32).reshape(3, 4) * 2
    )
