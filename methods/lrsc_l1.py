"""``lrsc-l1``: LRSC with the ℓ1 regulariser of C.

Li et al., AAAI 2021 (../shared/paper/lrsc-aaai2021.txt): Eq. (9) with R(C) = ‖C‖₁,
Algorithm 1 (meta-learning on external data) and Algorithm 2 (training on the target).
LRSC-L1 and LRSC-L2 share one definition: :mod:`benchmark.deep.lrsc` (estimator, loss
terms) and :mod:`benchmark.deep.lrsc_settings` (meta sources and per-dataset settings with
their sources); this file picks the regulariser.
"""

from __future__ import annotations

from benchmark.deep.lrsc_settings import lrsc_method

METHOD = lrsc_method("l1")
