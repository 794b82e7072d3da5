"""A parameter added after results exist keeps the ids of tasks at its earlier behaviour."""

from __future__ import annotations

import textwrap

from benchmark.cli import main
from benchmark.registry import Registry
from benchmark.store import Store
from benchmark.tasks import expand_grid

PLUGIN = '''
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans

from benchmark.plugins import MethodInfo, Param


class Lloyd(ClusterMixin, BaseEstimator):
    """k-means; ``shift`` (when present) moves the data before clustering."""

    def __init__(self, n_clusters=2, random_state=None, n_init=3{extra_arg}):
        self.n_clusters, self.random_state, self.n_init = n_clusters, random_state, n_init
{extra_store}
    def fit(self, X, y=None):
        X = X + getattr(self, "shift", 0.0)
        model = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.random_state)
        self.labels_ = model.fit(X).labels_
        return self


METHOD = MethodInfo(
    id="lloyd",
    name="Lloyd",
    estimator=Lloyd,
    kind="reference",
    defaults={{"*": {{"n_init": Param(3, "choice: a few restarts"){extra_param}}}}},
    memory_mb=lambda n, d: 10.0,
)
'''
BEFORE = PLUGIN.format(extra_arg="", extra_store="", extra_param="")
AFTER = PLUGIN.format(
    extra_arg=", shift=0.0",
    extra_store="        self.shift = shift\n",
    extra_param=', "shift": Param(0.0, "choice: no shift", added_at=0.0)',
)


def _plugin_dir(root, text):
    folder = root / "plugins"
    folder.mkdir(parents=True)
    (folder / "lloyd.py").write_text(textwrap.dedent(text))
    return folder


def _task_ids(folder, overrides=None):
    tasks = expand_grid(Registry([folder]), ["lloyd"], ["synthetic"], [60], [0], overrides)
    return [t.task_id for t in tasks], tasks


def test_a_switch_added_at_the_old_behaviour_keeps_task_ids(tmp_path):
    (before,), _ = _task_ids(_plugin_dir(tmp_path / "v1", BEFORE))
    folder = _plugin_dir(tmp_path / "v2", AFTER)
    (after,), (task,) = _task_ids(folder)
    assert after == before
    assert task.params["shift"] == 0.0 and "shift" not in task.identity()["params"]
    (moved,), _ = _task_ids(folder, {"lloyd": {"shift": [1.0]}})
    assert moved != before  # another value is another task


def test_records_state_the_implicit_value_and_verify_reruns_them(tmp_path, capsys):
    folder = _plugin_dir(tmp_path, AFTER)
    out = tmp_path / "out"
    run = ["run", "--plugins", str(folder), "--methods", "lloyd", "--datasets", "synthetic"]
    assert main([*run, "--sizes", "60", "--seeds", "0", "--out", str(out)]) == 0
    (record,) = Store(out).records()
    assert record["implicit_params"] == {"shift": 0.0}
    assert "shift" not in record["params"]
    assert main(["verify", "--plugins", str(folder), "--out", str(out)]) == 0
    assert "1 matched" in capsys.readouterr().out
