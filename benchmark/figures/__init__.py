"""Figures of the benchmark (``python -m benchmark plot``).

* :mod:`benchmark.figures.data`: what a deep fit keeps for figures (a small ``.npz``
  beside its record: latent codes and affinity of a class-stratified subsample). NumPy
  only, so the worker imports it without matplotlib.
* :mod:`benchmark.figures.plots`: the figures themselves (matplotlib, Agg backend).
"""

KINDS = ("fig2", "fig3", "cost", "sensitivity")
"""The figures ``plot`` draws (``--kind``); here, not in ``plots``, so ``--help`` stays light."""
