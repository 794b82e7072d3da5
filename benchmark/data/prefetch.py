"""Filling the data home ahead of time (``python -m benchmark fetch``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from benchmark.data.checks import DataError
from benchmark.data.home import data_home
from benchmark.plugins import DatasetInfo


def fetch_datasets(
    datasets: Iterable[DatasetInfo], log: Callable[[str], None] = print
) -> dict[str, str]:
    """Call each dataset's ``fetch()``; return ``{id: "ok" | "nothing to fetch" | error}``.

    A dataset that fails does not stop the others; the caller decides the exit status
    from the returned outcomes (any value other than ``"ok"``/``"nothing to fetch"``).
    """
    outcomes: dict[str, str] = {}
    log(f"data home: {data_home()}")
    for info in datasets:
        if info.fetch is None:
            outcomes[info.id] = "nothing to fetch"
        else:
            try:
                info.fetch()
                outcomes[info.id] = "ok"
            except DataError as exc:
                outcomes[info.id] = f"error: {exc}"
        log(f"{info.id}: {outcomes[info.id]}")
    return outcomes
