"""A test method that can succeed, raise, hang, die, diverge or over-allocate on demand."""

from __future__ import annotations

import logging
import os
import signal
import time

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans

from benchmark.data import MissingDataError
from benchmark.plugins import MethodInfo, Param


class FaultyKMeans(ClusterMixin, BaseEstimator):
    """k-means whose ``mode`` makes it misbehave: ok, raise, nodata (a
    missing-data error), sleep, kill, nan, alloc; or
    ``progress``: log a progress line every 0.2 s during ``sleep_s``, as the deep core does."""

    def __init__(self, n_clusters=2, random_state=None, mode="ok", sleep_s=0.0, checkpoint=None):
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.mode = mode
        self.sleep_s = sleep_s
        self.checkpoint = checkpoint

    def fit(self, X, y=None):
        if self.mode == "progress":
            steps = max(int(self.sleep_s / 0.2), 1)
            for step in range(1, steps + 1):
                time.sleep(0.2)
                logging.getLogger("faulty").info(
                    "step %d/%d: loss %.3f (detail), %.1f s left", step, steps, 1 / step,
                    (steps - step) * 0.2,
                )  # fmt: skip
        else:
            time.sleep(self.sleep_s)
        if self.mode == "raise":
            raise RuntimeError("faulty method raised on purpose")
        if self.mode == "nodata":
            raise MissingDataError("faulty: no data here. Fix: point --mirror at it")
        if self.mode == "sleep":
            time.sleep(3600)
        if self.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "alloc":
            self.hog_ = np.ones(2**31, dtype=np.uint8)  # 2 GiB
        self.labels_ = KMeans(
            self.n_clusters, n_init=3, random_state=self.random_state
        ).fit_predict(X)
        self.objective_ = float("nan") if self.mode == "nan" else 0.0
        return self


METHOD = MethodInfo(
    id="faulty",
    name="Faulty",
    estimator=FaultyKMeans,
    defaults={"*": {"mode": Param("ok", "test"), "sleep_s": Param(0.0, "test")}},
    memory_mb=lambda n, d: n * d * 8 / 2**20,
    kind="reference",
)

HUGE = MethodInfo(
    id="huge",
    name="Huge",
    estimator=FaultyKMeans,
    defaults={"*": {}},
    memory_mb=lambda n, d: 1e9,
    kind="reference",
)
