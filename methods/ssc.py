"""``ssc``: Sparse Subspace Clustering (Elhamifar & Vidal, TPAMI 2013), noisy-data ADMM.

The estimator, :class:`SSC` in ``estimators/ssc.py`` (the paper's equations are in its
docstring), is imported only when a task runs.
"""

from __future__ import annotations

from benchmark.any_data import any_data_source
from benchmark.plugins import PROCESS_BASELINE_MB, MethodInfo, Param, features_key


def memory_mb(n: int, d: int) -> float:
    """Two n×n float32 iterates, D×n float64 work arrays, sparse C and the spectral step."""
    return (2 * 4 * n * n + 16 * 8 * min(n, d) * n + 64 * n * 50) / 2**20 + PROCESS_BASELINE_MB


NO_PUBLISHED_ALPHA = Param(
    20.0,
    "paper: SSC TPAMI 2013, α_z = 20 for face clustering; no published SSC setting for "
    "this dataset (α_z is relative to the data's coherence μ_z, so it carries across scales)",
)

METHOD = MethodInfo(
    id="ssc",
    name="SSC",
    estimator="estimators/ssc.py:SSC",
    kind="paper",
    view="vectors",
    memory_mb=memory_mb,
    defaults={
        "*": {
            "alpha": Param(
                5.0,
                any_data_source("α_z ∈ {5, 20, 100, 800}", "0.518 (best α_z there: 20, 0.562)"),
            ),
            "tol": Param(2e-4, "reference code: admmLasso_mat_func thr = 2e-4"),
            "max_iter": Param(200, "reference code: admmLasso_mat_func maxIter = 200"),
            "dtype": Param("float32", "choice: halves n×n memory and time at n = 10,000"),
            "normalize_points": Param(
                False,
                "reference code: SSC.m passes the data to admmLasso_mat_func unscaled "
                "(α_z is relative to the data's coherence μ_z, so a common scale does not matter)",
                added_at=False,
            ),
        },
        features_key("images"): {"alpha": NO_PUBLISHED_ALPHA},
        features_key("text"): {"alpha": NO_PUBLISHED_ALPHA},
    },
    description="Sparse Subspace Clustering: Lasso self-expression solved by ADMM.",
)
