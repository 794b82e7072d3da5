"""A running task's progress, from its log, in the run display and in ``status``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmark.progress import latest_progress, status_line
from benchmark.store import Store

from .conftest import FIXTURE_PLUGINS

REPO = Path(__file__).resolve().parent.parent


def test_latest_progress_is_the_last_logged_line_shortened_keeping_the_time_left(tmp_path):
    log = tmp_path / "task.log"
    assert latest_progress(log) is None  # not started
    log.write_text("=== attempt abc Wed Dec  2 09:00:00 2026\n")
    assert latest_progress(log) is None  # nothing logged yet
    lines = [
        "2026-12-02 09:00:01,000 benchmark.deep.teacher: teacher M1 epoch 1/30, 60 s left",
        "2026-12-02 09:00:02,500 benchmark.deep.estimator: fine-tuning epoch 7/100: "
        "objective 12.5 (reconstruction 10.1, self_expression 2.4, regularizer 0.003); "
        "3 s elapsed, about 40 s left",
        "Traceback is not a logged line",
    ]
    log.write_text("\n".join(["=== attempt abc", *lines]) + "\n")
    assert latest_progress(log) == (
        "estimator: fine-tuning epoch 7/100: objective 12.5; 3 s elapsed, about 40 s left"
    )
    assert latest_progress(log, max_chars=20) == "estimator: fine-tun…"
    assert status_line({"ok": 2, "failed": 0}, [("a", log), ("b", tmp_path / "none")]) == (
        "ok=2; a estimator: fine-tuning epoch 7/100: objective 12.5; 3 s elapsed, about 40 s left"
    )


def test_the_run_display_and_status_show_a_running_tasks_progress(tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "benchmark", "run", "--methods", "faulty", "--datasets",
            "synthetic", "--seeds", "0", "--set", "faulty.mode=progress", "--set",
            "faulty.sleep_s=6", "--out", str(out), "--plugins", str(FIXTURE_PLUGINS)]  # fmt: skip
    run = subprocess.Popen(args, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)  # fmt: skip
    status = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.5)
        if Store(out).running():
            status = subprocess.run(
                [sys.executable, "-m", "benchmark", "status", "--out", str(out)],
                cwd=REPO, capture_output=True, text=True,
            ).stdout  # fmt: skip
            if "faulty: step" in status:
                break
    _, display = run.communicate(timeout=60)
    assert run.returncode == 0
    assert "running" in status and "faulty: step" in status and "s left" in status
    assert "faulty/synthetic/n=300/seed=0 faulty: step" in display
