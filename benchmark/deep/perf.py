"""Fine-tuning step time and peak memory of the deep core: ``python -m benchmark.deep.perf``.

Each size runs in a fresh process (so its peak resident memory is its own): random
1×32×32 images, the 10-20-30-40 convolutional auto-encoder, full-batch fine-tuning of
Eq. (1) with the L1 and the L2 regulariser. Prints, per n and regulariser, the median
time of a fine-tuning step (after one warm-up step), the process's peak resident
memory and the estimate of :mod:`benchmark.deep.memory`. ``--naive`` measures, for
comparison, the textbook version: C an ``nn.Parameter`` masked by ``C ⊙ (1 − I)``, the
whole loss through autograd and ``torch.optim.Adam`` over everything.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from benchmark.deep.autoencoders import build_autoencoder, values_per_sample
from benchmark.deep.memory import finetune_bytes
from benchmark.deep.objective import Objective, Reconstruction, SelfExpression, Weighted
from benchmark.deep.self_expression import SelfExpressionLayer
from benchmark.deep.training import finetune

SIZES = (1000, 2225, 5000, 10000)
CHANNELS = (10, 20, 30, 40)
IMAGE = (1, 32, 32)


def measure(n: int, regularizer: str, steps: int) -> dict[str, float]:
    """Time ``steps`` fine-tuning epochs on n random images (in this process)."""
    generator = torch.Generator().manual_seed(0)
    data = torch.rand((n, *IMAGE), generator=generator)
    model = build_autoencoder(IMAGE, CHANNELS, 3, (), "relu", seed=0)
    layer = SelfExpressionLayer(n, 1e-4, data.device)
    stamps: list[float] = []
    start = time.perf_counter()
    objective = Objective(
        [Weighted(Reconstruction(), 1.0), Weighted(SelfExpression(), 1.0)], regularizer, 1.0
    )
    finetune(
        model,
        data,
        layer,
        objective,
        epochs=steps + 1,
        lr=1e-3,
        progress=lambda epoch, value, terms: stamps.append(time.perf_counter()),
    )
    step_times = [b - a for a, b in zip([start, *stamps[:-1]], stamps, strict=True)]
    return _summary(n, regularizer, step_times)


def measure_naive(n: int, regularizer: str, steps: int) -> dict[str, float]:
    """Time the naive full-batch step (autograd through an n×n masked C)."""
    generator = torch.Generator().manual_seed(0)
    data = torch.rand((n, *IMAGE), generator=generator)
    model = build_autoencoder(IMAGE, CHANNELS, 3, (), "relu", seed=0)
    coef = torch.nn.Parameter(torch.full((n, n), 1e-4))
    mask = 1 - torch.eye(n)
    optimizer = torch.optim.Adam([*model.parameters(), coef], lr=1e-3)
    step_times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        masked = coef * mask
        codes = model.encode(data)
        expressed = masked.t().mm(codes)
        penalty = masked.abs().sum() if regularizer == "l1" else (masked**2).sum()
        loss = (
            0.5 * torch.sum((model.decode(expressed) - data) ** 2)
            + 0.5 * torch.sum((codes - expressed) ** 2)
            + penalty
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step_times.append(time.perf_counter() - start)
    return _summary(n, regularizer, step_times)


def _summary(n: int, regularizer: str, step_times: list[float]) -> dict[str, float]:
    return {
        "n": n,
        "regularizer": regularizer,
        "first_step_s": step_times[0],
        "step_s": statistics.median(step_times[1:]),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "estimate_mib": finetune_bytes(n, values_per_sample(IMAGE, CHANNELS, ())) / 2**20,
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the table (or, with ``--one``, one measurement as JSON)."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.deep.perf", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--regularizers", default="l1,l2")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--naive", action="store_true", help="measure the naive version")
    parser.add_argument("--one", nargs=2, metavar=("N", "REGULARIZER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        run = measure_naive if args.naive else measure
        print(json.dumps(run(int(args.one[0]), args.one[1], args.steps)))
        return 0
    print(
        f"{'n':>6} {'reg':>3} {'thr':>3} {'step s':>7} {'1st s':>6} {'peak MiB':>9} {'est MiB':>8}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        for regularizer in args.regularizers.split(","):
            command = [sys.executable, "-m", "benchmark.deep.perf", "--one", str(n), regularizer]
            command += ["--steps", str(args.steps)]
            if args.threads:
                command += ["--threads", str(args.threads)]
            if args.naive:
                command.append("--naive")
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{r['n']:>6} {r['regularizer']:>3} {r['threads']:>3} {r['step_s']:>7.2f} "
                f"{r['first_step_s']:>6.2f} {r['peak_mib']:>9.0f} {r['estimate_mib']:>8.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
