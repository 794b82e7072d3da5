"""Fixtures and helpers of the deep-method tests (registered in conftest.py).

Deep test modules opt in with
``pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_data_home")``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.checkpoint import Checkpoint
from benchmark.deep import DeepSelfExpressiveClustering
from benchmark.synthetic import union_of_subspaces

N_CLUSTERS = 4


@pytest.fixture
def one_torch_thread():
    """Tiny networks gain nothing from threads, and lose a lot on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def private_data_home(tmp_path, monkeypatch):
    """Caches of pretrained networks and C go to a fresh data home in every test."""
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path / "data-home"))


@pytest.fixture(scope="module")
def nonlinear_union() -> tuple[np.ndarray, np.ndarray]:
    """4 subspaces of dimension 3 in R^20, pushed through tanh(3·XW) into R^30."""
    X, y = union_of_subspaces(N_CLUSTERS, 3, 20, 40, noise=0.05, seed=0)
    W = np.random.default_rng(1).standard_normal((20, 30)) / np.sqrt(20)
    return np.tanh(3 * X @ W).astype(np.float32), y


def small_model(**overrides) -> DeepSelfExpressiveClustering:
    settings = dict(
        n_clusters=N_CLUSTERS,
        random_state=0,
        regularizer="l1",
        lambda1=1.0,
        lambda2=1.0,
        dense_hidden=(32,),
        output_activation="linear",
        pretrain_epochs=50,
        pretrain_batch_size=32,
        finetune_epochs=100,
        finetune_lr=1e-2,
        use_cache=False,
    )
    settings.update(overrides)
    return DeepSelfExpressiveClustering(**settings)


class KilledAfterSaves(Checkpoint):
    """A checkpoint whose process 'dies' right after its ``saves``-th save."""

    def __init__(self, path, every, saves):
        super().__init__(path, every)
        self.saves_left = saves

    def save(self, state):
        super().save(state)
        self.saves_left -= 1
        if self.saves_left == 0:
            raise KeyboardInterrupt("simulated kill")
