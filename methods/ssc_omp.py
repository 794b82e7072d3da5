"""``ssc-omp``: Sparse Subspace Clustering by Orthogonal Matching Pursuit (You et al., 2016).

The estimator, :class:`SSCOMP` in ``estimators/ssc_omp.py`` (the paper's equations are in
its docstring), is imported only when a task runs.
"""

from __future__ import annotations

from benchmark.any_data import any_data_source
from benchmark.plugins import PROCESS_BASELINE_MB, MethodInfo, Param, features_key

POINT_BLOCK = 512
"""Points pursued together: their residual correlations are one (block × n) product."""


def memory_mb(n: int, d: int) -> float:
    """Point-block correlations and QR factors; sparse C (≤ k_max per column); spectral step."""
    return (3 * 8 * POINT_BLOCK * n + 2 * 8 * n * d + 64 * n * 20) / 2**20 + PROCESS_BASELINE_MB


IMAGE_SETTING = {
    "kmax": Param(
        5,
        "reference code: run_mnist.py n_nonzero = 5, its image example; no published "
        "SSC-OMP setting for this dataset",
    ),
    "eps": Param(
        3.2e-3,
        "reference code: run_mnist.py thr = 1e-5 on ‖r‖²/‖x‖ (ε = √thr)",
    ),
}
TEXT_SETTING = {
    "kmax": Param(
        10, "reference code: default n_nonzero = 10; no published setting for this dataset"
    ),
    "eps": Param(1e-3, "reference code: default thr = 1e-6 (ε = 1e-3, unit-norm rows)"),
}

METHOD = MethodInfo(
    id="ssc-omp",
    name="SSC-OMP",
    estimator="estimators/ssc_omp.py:SSCOMP",
    kind="paper",
    view="vectors",
    memory_mb=memory_mb,
    defaults={
        "*": {
            "kmax": Param(
                5,
                any_data_source(
                    "k_max ∈ {5, 10, 20} (ε = 1e-3, unit-norm points)",
                    "0.526 (best k_max there: 10, 0.581)",
                ),
            ),
            "eps": Param(
                1e-3,
                "reference code: thr = 1e-6 on ‖r‖²/‖x‖, i.e. ε = 1e-3 on unit-norm points",
            ),
            "dtype": Param("float32", "choice: correlations only rank atoms"),
            "normalize_points": Param(
                True,
                "reference code: the authors' MATLAB demos scale every point to unit norm "
                "(cnormalize_inplace) before OMP_mat_func, as the paper's analysis assumes; "
                "their Python port leaves it to the caller",
            ),
        },
        features_key("images"): IMAGE_SETTING,
        features_key("text"): TEXT_SETTING,
    },
    description="Sparse Subspace Clustering by Orthogonal Matching Pursuit (batched OMP).",
)
