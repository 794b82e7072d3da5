"""``lrr``: Low-Rank Representation (Liu et al., TPAMI 2013), inexact ALM on the row space.

The estimator, :class:`LRR` in ``estimators/lrr.py`` (the paper's equations are in its
docstring), is imported only when a task runs.
"""

from __future__ import annotations

from benchmark.any_data import SEARCH_TABLE, any_data_source
from benchmark.plugins import PROCESS_BASELINE_MB, MethodInfo, Param, features_key

AS_GIVEN = Param(
    False,
    "reference code: lrr_face_seg.m passes the images unscaled (λ weighs ‖E‖₂,₁ in the "
    "data's own units; this dataset's λ was chosen at its own scale)",
    added_at=False,
)


def memory_mb(n: int, d: int) -> float:
    """Z = QZ′ and the affinity as n×n float32, the spectral step's copy, r×n iterates."""
    r = min(n, d)
    return (3 * 4 * n * n + 12 * 8 * r * n + 8 * n * r) / 2**20 + PROCESS_BASELINE_MB


METHOD = MethodInfo(
    id="lrr",
    name="LRR",
    estimator="estimators/lrr.py:LRR",
    kind="paper",
    view="vectors",
    memory_mb=memory_mb,
    defaults={
        "*": {
            "lam": Param(
                0.5,
                any_data_source(
                    "λ ∈ {0.01, 0.05, 0.15, 0.5, 2} on unit-norm points",
                    "0.557 (best λ there: 0.15, 0.596)",
                ),
            ),
            "tol": Param(1e-8, "reference code: inexact_alm_lrr_l21 tol = 1e-8"),
            "max_iter": Param(1000, "choice: cap (μ reaches μ_max after ~400 iterations)"),
            "power": Param(4, "reference code: lrr_face_seg.m / lrr_motion_seg.m (UUᵀ).^4"),
            "normalize_points": Param(
                True,
                "transfer:mnist+omniglot: λ weighs ‖E‖₂,₁ in the data's own units, so data "
                "without settings of their own are scaled to unit-norm points, where the λ "
                "chosen across datasets means the same at any scale (the reference code, "
                "lrr_face_seg.m, passes its images unscaled); " + SEARCH_TABLE,
                added_at=False,
            ),
        },
        features_key("images"): {
            "normalize_points": AS_GIVEN,
            "lam": Param(
                0.05,
                "transfer:fashion-mnist-tuning: λ ∈ {0.02, 0.05, 0.1, 0.15, 0.3} on tuning "
                "samples (pool 'tuning', n = 1,000, seeds 100-102): best mean ACC (0.585) at "
                "0.05 — results/lrr_tuning.md (notMNIST has no points outside its reported "
                "samples and takes this choice too)",
            ),
        },
        features_key("text"): {
            "normalize_points": AS_GIVEN,
            "lam": Param(
                0.1,
                "transfer:20newsgroups-meta: λ ∈ {0.05, 0.1, 0.15, 0.2, 0.3, 1} on 2,225 posts "
                "of the 10 meta groups in BBC's feature space, seeds 100-102: best mean ACC "
                "(0.471) at 0.1 — results/lrr_tuning.md",
            ),
        },
        "20newsgroups": {
            "lam": Param(
                0.05,
                "transfer:20newsgroups-meta: λ ∈ {0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 1} on "
                "2,225 posts of the 10 meta groups in its feature space, seeds 100-102: best "
                "mean ACC (0.510) at 0.05 — results/lrr_tuning.md",
            )
        },
    },
    description="Low-Rank Representation (nuclear norm + ℓ2,1 errors) by inexact ALM.",
)
