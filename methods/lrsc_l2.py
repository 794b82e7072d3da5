"""``lrsc-l2``: LRSC with the Frobenius regulariser of C, and Table 3's ablation rows.

Li et al., AAAI 2021 (../shared/paper/lrsc-aaai2021.txt): Eq. (9) with R(C) = ‖C‖²_F,
Algorithm 1 (meta-learning on external data) and Algorithm 2 (training on the target).
The variants ``ablation-none`` (DSCN-L2), ``ablation-task`` and ``ablation-task+model``
are Table 3's rows; the default is the full model. LRSC-L1 and LRSC-L2 share one
definition, :mod:`benchmark.deep.lrsc` (estimator) and :mod:`benchmark.deep.lrsc_settings`
(settings); this file picks the regulariser.
"""

from __future__ import annotations

from benchmark.deep.lrsc_settings import lrsc_method

METHOD = lrsc_method("l2")
