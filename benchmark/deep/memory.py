"""Memory estimates of the deep self-expressive models, checked before C is allocated.

Full-batch fine-tuning holds C (n×n), its two Adam moments and one block of gradient
rows with its scratch block (see :mod:`benchmark.deep.coefficient_adam`), plus the
network's activations for all n samples. Reading C out (affinity, optional DSC-Net
post-processing, spectral step) needs a few dense n×n arrays of its own once the
optimiser is gone; :func:`task_memory_mb` reports the larger of the two phases.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    import torch

FLOAT_BYTES = 4
RUNTIME_OVERHEAD_BYTES = 450 * 2**20
"""Python, torch and the libraries loaded in a worker, plus the data (measured: 340 MiB
before the data)."""
ACTIVATION_COPIES = 2
"""Each layer output is kept for backward (ReLUs work in place) and gets a gradient.
Calibrated with ``python -m benchmark.deep.perf``: estimate 2,465 MiB, peak 2,290 MiB
at n = 10,000 on 1×32×32 images."""
READOUT_BYTES_PER_ENTRY = {False: 40, True: 48}
"""Bytes per entry of C while reading it out: C, the affinity and its float64 copies in
the spectral step (plain; measured 35 bytes per entry for a whole task at n = 5,000),
plus the sorting of the per-column threshold (post-processing)."""
BUDGET_ENV = "SUBSPACE_BENCH_DEEP_MEMORY_MB"
"""Default budget in MiB for the guard when the estimator gets none."""


BLOCK_ELEMENTS = 1 << 22
"""Target number of entries in one block of rows of C's gradient (16 MiB in float32), see
:mod:`benchmark.deep.coefficient_adam`. Larger blocks mean fewer parallel regions per
step, which matters on a small, shared CPU; smaller ones would stay in cache but pay
thread start-up per block."""


def block_rows(n: int) -> int:
    """Rows per block for an n×n coefficient matrix."""
    return max(1, min(n, BLOCK_ELEMENTS // n))


class MemoryBudgetError(MemoryError):
    """Fine-tuning would need more memory than the budget allows."""


def coefficient_state_bytes(n: int) -> int:
    """C, its two Adam moments, one gradient block and its scratch block (float32)."""
    return FLOAT_BYTES * (3 * n * n + 2 * block_rows(n) * n)


def activation_bytes(n: int, values_per_sample: int) -> int:
    """Network activations of a full-batch pass: ``values_per_sample`` outputs per sample."""
    return FLOAT_BYTES * ACTIVATION_COPIES * n * values_per_sample


def finetune_bytes(n: int, values_per_sample: int) -> int:
    """Peak bytes of full-batch fine-tuning (coefficients, activations, runtime)."""
    coefficients = coefficient_state_bytes(n)
    return coefficients + activation_bytes(n, values_per_sample) + RUNTIME_OVERHEAD_BYTES


def task_memory_mb(
    n: int, values_per_sample: int, post_process: bool, extra_bytes: int = 0
) -> float:
    """Peak MiB of a whole task: the larger of fine-tuning and reading C out.

    ``extra_bytes``: what a method's own loss terms and auxiliary networks add while
    fine-tuning.
    """
    readout = READOUT_BYTES_PER_ENTRY[bool(post_process)] * n * n + RUNTIME_OVERHEAD_BYTES
    return max(finetune_bytes(n, values_per_sample) + int(extra_bytes), readout) / 2**20


def default_budget_mb(device: torch.device) -> float:
    """``$SUBSPACE_BENCH_DEEP_MEMORY_MB``, else the free memory of the device."""
    explicit = os.environ.get(BUDGET_ENV)
    if explicit:
        return float(explicit)
    if device.type == "cuda":
        import torch  # only here: the estimates above are read without PyTorch

        free, _ = torch.cuda.mem_get_info(device)
        return free / 2**20
    return psutil.virtual_memory().available / 2**20


def check_finetune_memory(
    n: int,
    values_per_sample: int,
    device: torch.device,
    budget_mb: float | None,
    extra_bytes: int = 0,
) -> float:
    """Raise :class:`MemoryBudgetError` if fine-tuning n points exceeds the budget.

    ``extra_bytes`` is what a method's own loss terms and auxiliary networks add (see
    :meth:`benchmark.deep.objective.Objective.memory_bytes`). Returns the estimate in
    MiB. ``budget_mb=None`` uses :func:`default_budget_mb`.
    """
    budget = default_budget_mb(device) if budget_mb is None else float(budget_mb)
    need = finetune_bytes(n, values_per_sample) + int(extra_bytes)
    need_mb = need / 2**20
    if need_mb > budget:
        gib = 2**30
        raise MemoryBudgetError(
            f"full-batch fine-tuning of n={n} points needs about {need / gib:.1f} GiB "
            f"(C, its Adam moments and gradient blocks: {coefficient_state_bytes(n) / gib:.1f} "
            f"GiB; network activations: {activation_bytes(n, values_per_sample) / gib:.1f} GiB; "
            f"the method's own terms: {int(extra_bytes) / gib:.1f} GiB), "
            f"over the budget of {budget / 1024:.1f} GiB on {device}. Use a smaller size, a "
            f"machine (or GPU) with more memory, or raise the budget with the estimator's "
            f"memory_budget_mb or ${BUDGET_ENV}."
        )
    return need_mb
