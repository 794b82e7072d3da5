"""``dscn-l1``: Deep Subspace Clustering Network with the ℓ1 regulariser.

Ji, Zhang, Li, Salzmann & Reid, "Deep Subspace Clustering Networks", NeurIPS 2017;
LRSC (Li et al., AAAI 2021) Eq. (1)-(2) with R(C) = ‖C‖₁, trained by Algorithm 2. DSCN-L1
and DSCN-L2 share one definition, :mod:`benchmark.deep.dscn` (model, training, readouts
and per-dataset settings with their sources); this file picks the regulariser.
"""

from __future__ import annotations

from benchmark.deep.dscn import dscn_method

METHOD = dscn_method("l1")
