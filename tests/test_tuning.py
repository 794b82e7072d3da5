"""Search summaries (benchmark.tuning) and the held-out tuning pool of the image sets."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data import REPORTED_SEEDS, TUNING_SEEDS, balanced_indices, held_out_indices
from benchmark.tuning import (
    across_datasets,
    best_settings,
    format_across,
    format_summary,
    search_summary,
)


def record(lam: float, seed: int, acc: float, variant: str = "", space: str = "bbc") -> dict:
    return {
        "status": "ok",
        "method": "dscn-l1",
        "variant": variant,
        "dataset": "20newsgroups-meta",
        "n_points": 2225,
        "seed": seed,
        "params": {"lambda1": lam, "lambda2": 1.0, "dense_hidden": [128]},
        "dataset_params": {"feature_space": space, "n_components": None},
        "metrics": {"acc": acc, "nmi": acc / 2, "ari": acc / 3},
        "fit_time_s": 10.0,
    }


def test_summary_averages_seeds_per_setting_and_names_the_best():
    records = [
        record(1, 100, 0.5),
        record(1, 101, 0.7),
        record(10, 100, 0.8),
        record(10, 101, 0.9),
        record(10, 100, 0.2, space="20newsgroups"),
        record(1, 100, 0.4, space="20newsgroups"),
        {**record(100, 100, 0.99), "status": "failed", "metrics": None},
    ]
    summary = search_summary(records)
    assert set(summary.columns) >= {"p.lambda1", "d.feature_space", "acc_mean", "seeds"}
    assert "p.lambda2" not in summary.columns  # it never varies
    row = summary[(summary["p.lambda1"] == 1) & (summary["d.feature_space"] == "bbc")]
    assert row["acc_mean"].item() == pytest.approx(0.6) and row["seeds"].item() == 2
    best = best_settings(summary, ["method", "variant", "d.feature_space"])
    chosen = dict(zip(best["d.feature_space"], best["p.lambda1"], strict=True))
    assert chosen == {"bbc": 10, "20newsgroups": 1}  # the failed λ1 = 100 never counts
    assert "0.850 ± 0.071" in format_summary(summary)


def test_held_out_pool_shares_no_point_with_any_reported_sample():
    labels = np.repeat(np.arange(10), 700)
    kept = held_out_indices(labels, 10, (100, 500, 1000), REPORTED_SEEDS)
    for size in (100, 500, 1000):
        for seed in REPORTED_SEEDS:
            assert not np.intersect1d(kept, balanced_indices(labels, size, 10, seed)).size
    # a tuning sample drawn from what is left keeps the classes balanced
    tuning = kept[balanced_indices(labels[kept], 100, 10, TUNING_SEEDS[0])]
    assert np.bincount(labels[tuning]).tolist() == [10] * 10


def test_tuning_command_prints_every_setting_and_the_best(tmp_path, capsys):
    from benchmark.cli import main
    from benchmark.store import Store

    store = Store(tmp_path)
    for i, (lam, seed, acc) in enumerate([(1, 100, 0.5), (1, 101, 0.7), (10, 100, 0.8)]):
        store.write_record({**record(lam, seed, acc), "task_id": f"{i:016x}"})
    assert main(["tuning", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    best = text.split("## Best mean ACC")[1]
    assert "0.600 ± 0.141" in text  # λ1 = 1: seeds 100 and 101
    assert "0.800 ± 0.000" in best and "0.600" not in best  # λ1 = 10 wins
    assert main(["tuning", "--out", str(tmp_path / "empty")]) == 2


def across_record(dataset: str, lam: float, seed: int, acc: float) -> dict:
    return {**record(lam, seed, acc), "dataset": dataset, "n_points": 1000}


def test_settings_chosen_across_datasets_are_checked_on_the_held_out_one():
    scores = {  # (dataset, λ1) -> ACC; λ1 = 1 wins on mnist + omniglot, λ1 = 10 on F-MNIST
        ("mnist", 1): 0.8, ("mnist", 10): 0.6, ("mnist", 100): 0.5,
        ("omniglot", 1): 0.5, ("omniglot", 10): 0.6, ("omniglot", 100): 0.4,
        ("fashion-mnist", 1): 0.55, ("fashion-mnist", 10): 0.6, ("fashion-mnist", 100): 0.3,
    }  # fmt: skip
    records = [
        across_record(dataset, lam, seed, acc + 0.01 * (seed - 100))
        for (dataset, lam), acc in scores.items()
        for seed in (100, 101)
    ]
    table = across_datasets(search_summary(records), held_out="fashion-mnist")
    chosen = table[table["chosen"]]
    assert chosen["p.lambda1"].tolist() == [1]  # mean 0.655 over mnist and omniglot
    assert chosen["score"].item() == pytest.approx((0.805 + 0.505) / 2)
    assert chosen["held_out"].item() == pytest.approx(0.555)
    assert chosen["held_out_rank"].item() == 2  # λ1 = 10 would have been best there
    text = format_across(table, "fashion-mnist")
    assert "the choice gives 0.555 on fashion-mnist (rank 2 of 3" in text
    assert "the best setting there: 0.605" in text
    with pytest.raises(ValueError, match="not in the search"):
        across_datasets(search_summary(records), held_out="notmnist")


def test_methods_searched_together_are_ranked_over_their_own_parameters():
    """One search folder for two methods with different parameters: each method's table
    holds its own settings only, not the product with the other method's grid."""
    records = []
    for dataset, offset in (("mnist", 0.0), ("omniglot", 0.1), ("fashion-mnist", 0.2)):
        for lam, acc in ((0.1, 0.5), (1.0, 0.6)):
            records.append({**across_record(dataset, lam, 100, acc + offset), "method": "lrr"})
            records[-1]["params"] = {"lam": lam}
        for alpha, acc in ((5, 0.7), (20, 0.4), (100, 0.3)):
            records.append({**across_record(dataset, 0, 100, acc + offset), "method": "ssc"})
            records[-1]["params"] = {"alpha": alpha}
    table = across_datasets(search_summary(records), held_out="fashion-mnist")
    assert table.groupby("method").size().to_dict() == {"lrr": 2, "ssc": 3}
    chosen = table[table["chosen"]].set_index("method")
    assert chosen.loc["lrr", "p.lam"] == 1.0 and chosen.loc["lrr", "p.alpha"] == ""
    assert chosen.loc["ssc", "p.alpha"] == 5
    text = format_across(table, "fashion-mnist")
    assert "- ssc: the choice gives 0.900 on fashion-mnist (rank 1 of 3" in text


def test_tuning_command_with_a_held_out_dataset(tmp_path, capsys):
    from benchmark.cli import main
    from benchmark.store import Store

    store = Store(tmp_path)
    rows = [("mnist", 1, 0.8), ("mnist", 10, 0.6), ("omniglot", 1, 0.7), ("omniglot", 10, 0.5)]
    rows += [("fashion-mnist", 1, 0.4), ("fashion-mnist", 10, 0.5)]
    for i, (dataset, lam, acc) in enumerate(rows):
        store.write_record({**across_record(dataset, lam, 100, acc), "task_id": f"{i:016x}"})
    assert main(["tuning", "--out", str(tmp_path), "--held-out", "fashion-mnist"]) == 0
    text = capsys.readouterr().out
    assert "checked on fashion-mnist (held out)" in text
    assert "the choice gives 0.400 on fashion-mnist (rank 2 of 2" in text
    assert main(["tuning", "--out", str(tmp_path), "--held-out", "bbc"]) == 2
    assert "not in the search" in capsys.readouterr().err
