"""Test method ``probe``: k-means that can raise, sleep, or run resumable checkpointed steps.

For the executor and fault-tolerance tests only (load it with ``--plugins tests/plugins``).
``mode``:
- ``ok``: k-means on the data;
- ``raise``: raises ``RuntimeError`` in ``fit``;
- ``sleep``: sleeps ``step_s`` seconds, then k-means;
- ``steps``: ``n_steps`` steps of ``step_s`` seconds each, saving its state to the
  engine checkpoint after every step and resuming from it when run again; each start
  and step is appended to the text file ``trace`` (if given), so a test can see where
  an attempt started.
"""

from __future__ import annotations

import time

from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans

from benchmark.plugins import MethodInfo, Param

MODES = ("ok", "raise", "sleep", "steps")


class ProbeKMeans(ClusterMixin, BaseEstimator):
    """k-means (Lloyd, scikit-learn) wrapped with the misbehaviours listed in the module."""

    def __init__(
        self,
        n_clusters=2,
        random_state=None,
        mode="ok",
        step_s=0.0,
        n_steps=1,
        trace="",
        checkpoint=None,
    ):
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.mode = mode
        self.step_s = step_s
        self.n_steps = n_steps
        self.trace = trace
        self.checkpoint = checkpoint

    def _note(self, line: str) -> None:
        if self.trace:
            with open(self.trace, "a") as handle:
                handle.write(line + "\n")

    def _steps(self) -> int:
        state = self.checkpoint.load() if self.checkpoint is not None else None
        first = 0 if state is None else int(state["step"])
        self._note(f"start {first}")
        for step in range(first + 1, self.n_steps + 1):
            time.sleep(self.step_s)
            if self.checkpoint is not None:
                self.checkpoint.save({"step": step})
            self._note(f"step {step}")
        return self.n_steps - first

    def fit(self, X, y=None):
        if self.mode not in MODES:
            raise ValueError(f"probe: mode must be one of {MODES}, got {self.mode!r}")
        if self.mode == "raise":
            raise RuntimeError("probe raised on purpose")
        if self.mode == "sleep":
            time.sleep(self.step_s)
        self.n_iter_ = self._steps() if self.mode == "steps" else 1
        self.converged_ = True
        kmeans = KMeans(self.n_clusters, n_init=3, random_state=self.random_state)
        self.labels_ = kmeans.fit_predict(X)
        return self


METHOD = MethodInfo(
    id="probe",
    name="Probe",
    estimator=ProbeKMeans,
    defaults={
        "*": {
            "mode": Param("ok", "test: behaviour switch"),
            "step_s": Param(0.0, "test: seconds per step / sleep"),
            "n_steps": Param(1, "test: steps in mode 'steps'"),
            "trace": Param("", "test: file that records starts and steps"),
        }
    },
    memory_mb=lambda n, d: 8.0 * n * d / 2**20,
    kind="reference",
    description="k-means with switchable faults, for executor tests",
)
