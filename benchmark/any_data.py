"""Sources of the ``"*"`` settings: what data without settings of their own get, chosen
across MNIST and Omniglot and checked on Fashion-MNIST's tuning pool (classical methods:
``results/tuning/classical_star_commands.sh``, table in ``results/tuning/classical-star.md``;
DSCN: ``results/tuning/star_commands.sh``, ``results/tuning/star.md``).
"""

from __future__ import annotations

SEARCH_TABLE = "results/tuning/classical-star.md"


def any_data_source(grid: str, held_out: str, table: str = SEARCH_TABLE) -> str:
    """The ``transfer:`` source of a ``"*"`` value chosen over ``grid`` (e.g. ``"α_z ∈ {5,
    20}"``), with what the choice gives on the held-out dataset (``held_out``) and the
    search's ``table``."""
    return (
        f"transfer:mnist+omniglot: best mean ACC over {grid}, averaged over 1,000 MNIST "
        "digits and 10 Omniglot characters (200 drawings), seeds 100-101; on Fashion-MNIST's "
        f"tuning pool, which the choice did not see, it gives {held_out}; {table}"
    )
