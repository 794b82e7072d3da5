"""The dataset plugins on the real files of the mirror (skipped without it; CI sets
SUBSPACE_BENCH_REQUIRE_DATA=1 to make that a failure). Features are built once per test
session in a temporary data home; later loads hit the cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import CorruptDataError, MissingDataError, fetch_datasets, read_newsgroups
from benchmark.registry import Registry
from tests.data_fixtures import load_default, require_mirror

pytestmark = pytest.mark.data


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data home shared by this session's mirror tests (so features are built once)."""
    return tmp_path_factory.mktemp("data-home")


@pytest.fixture
def mirror(session_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = require_mirror()
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(session_home))
    monkeypatch.setenv("SUBSPACE_BENCH_MIRROR", str(root))
    return root


@pytest.fixture(scope="session")
def datasets() -> Registry:
    return Registry()


def test_every_real_dataset_is_registered_with_its_kind(datasets):
    kinds = {i: d.kind for i, d in datasets.datasets.items() if d.kind != "synthetic"}
    assert kinds == {
        "fashion-mnist": "target",
        "notmnist": "target",
        "bbc": "target",
        "20newsgroups": "target",
        "20newsgroups-meta": "meta",
        "miniimagenet": "meta",
        "mnist": "meta",
        "omniglot": "meta",
    }
    for target in ("fashion-mnist", "notmnist", "bbc", "20newsgroups"):
        assert "meta_source" in datasets.dataset(target).params


def test_fashion_mnist_sizes_counts_shapes_and_seeds(mirror, datasets):
    info = datasets.dataset("fashion-mnist")
    full = load_default(info, 10000, seed=0)
    assert np.bincount(full.y).tolist() == [1000] * 10
    assert full.images.shape == (10000, 1, 32, 32) and full.images.dtype == np.float32
    assert full.X.shape == (10000, 1024) and full.X.dtype == np.float32
    assert full.X.min() >= 0.0 and full.X.max() <= 1.0
    assert full.info["pool_size"] == 70000
    assert {f["verified"] for f in full.info["files"].values()} == {"upstream checksum"}
    small = load_default(info, 1000, seed=0)
    assert np.bincount(small.y).tolist() == [100] * 10
    np.testing.assert_array_equal(small.X, load_default(info, 1000, seed=0).X)
    assert not np.array_equal(small.X, load_default(info, 1000, seed=1).X)


def test_image_sizes_that_cannot_be_served_are_clear_errors(mirror, datasets):
    info = datasets.dataset("fashion-mnist")
    with pytest.raises(ValueError, match="supports sizes 1000, 5000, 10000"):
        info.check_size(1234)
    with pytest.raises(ValueError, match="multiple of 10"):
        load_default(info, 1005, seed=0)
    with pytest.raises(ValueError, match="at most 10000"):
        load_default(info, 20000, seed=0, pool="test")


def test_notmnist_idx_sample_is_the_same_at_full_size_for_every_seed(mirror, datasets):
    info = datasets.dataset("notmnist")
    first, second = load_default(info, 10000, seed=0), load_default(info, 10000, seed=1)
    assert np.bincount(first.y).tolist() == [1000] * 10
    np.testing.assert_array_equal(first.X, second.X)
    assert first.info["source"] == "idx" and first.images.shape == (10000, 1, 32, 32)
    assert not np.array_equal(load_default(info, 1000, 0).X, load_default(info, 1000, 1).X)


def test_bbc_counts_features_and_cache(mirror, datasets, session_home):
    info = datasets.dataset("bbc")
    bundle = load_default(info, 2225, seed=0)
    assert np.bincount(bundle.y).tolist() == [510, 386, 417, 511, 401]
    assert bundle.X.shape == (2225, 256) and bundle.X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bundle.X, axis=1), 1.0, rtol=1e-4)
    assert bundle.info["decoded_as_latin1"] == 1 and bundle.images is None
    np.testing.assert_array_equal(bundle.X, load_default(info, 2225, seed=7).X)
    smaller = load_default(info, 2225, seed=0, n_components=16)
    assert smaller.X.shape == (2225, 16)
    assert smaller.info["feature_cache"] != bundle.info["feature_cache"]
    assert len(list((session_home / "features" / "bbc").glob("[0-9a-f]*"))) >= 2
    with pytest.raises(ValueError, match="size must be 2225"):
        load_default(info, 1000, seed=0)


def test_20newsgroups_archive_per_group_counts(mirror):
    corpus, splits = read_newsgroups(mirror / "20newsgroups" / "20news-bydate.tar.gz")
    assert len(corpus.texts) == 18846
    assert splits.count("train") == 11314 and splits.count("test") == 7532
    pairs = {}
    for group, split in zip(corpus.classes, splits, strict=True):
        pairs.setdefault(group, [0, 0])[split == "test"] += 1
    assert len(pairs) == 20
    assert pairs["alt.atheism"] == [480, 319] and pairs["rec.sport.hockey"] == [600, 399]
    assert pairs["talk.religion.misc"] == [377, 251] and pairs["comp.windows.x"] == [593, 395]


@pytest.mark.slow
def test_20newsgroups_target_and_meta_split(mirror, datasets):
    target_info, meta_info = datasets.dataset("20newsgroups"), datasets.dataset("20newsgroups-meta")
    target = load_default(target_info, 9301, seed=0)
    assert target.X.shape == (9301, 512) and target.n_clusters == 10
    assert np.bincount(target.y).tolist() == [799, 973, 982, 963, 975, 990, 994, 910, 940, 775]
    np.testing.assert_allclose(np.linalg.norm(target.X, axis=1), 1.0, rtol=1e-4)
    np.testing.assert_array_equal(target.X, load_default(target_info, 9301, seed=3).X)
    meta = load_default(meta_info, 9545, seed=0)
    assert meta.X.shape == (9545, 512) and meta.n_clusters == 10
    assert meta.info["feature_cache"] == target.info["feature_cache"]
    assert set(meta.info["meta_categories"]).isdisjoint(target.info["target_categories"])
    in_bbc_space = load_default(meta_info, 9545, seed=0, feature_space="bbc")
    assert in_bbc_space.X.shape == (9545, 256)
    assert in_bbc_space.info["preprocessing"]["n_components"] == 256


def test_20newsgroups_sizes_and_meta_split_in_the_bbc_space(mirror, datasets):
    target_info, meta_info = datasets.dataset("20newsgroups"), datasets.dataset("20newsgroups-meta")
    assert target_info.sizes == (9301,) and meta_info.default_sizes == (9545,)
    with pytest.raises(ValueError, match="size must be 9301"):
        load_default(target_info, 9000, seed=0)
    with pytest.raises(ValueError, match="unknown: \\['sci.nope'\\]"):
        load_default(target_info, 9301, seed=0, target_categories=("sci.nope", "sci.med"))
    small = {"feature_space": "bbc", "n_components": 16}  # the default 256 is in the slow test
    first = load_default(meta_info, 500, seed=0, **small)
    assert first.X.shape == (500, 16) and first.info["feature_space"] == "bbc"
    assert sorted(first.info["files"]) == ["20news-bydate.tar.gz", "bbc-fulltext.zip"]
    assert not np.array_equal(first.X, load_default(meta_info, 500, seed=1, **small).X)


def test_all_20_groups_as_meta_data_in_the_bbc_space_only(mirror, datasets):
    meta_info = datasets.dataset("20newsgroups-meta")
    small = {"feature_space": "bbc", "n_components": 16, "groups": "all"}
    every_post = load_default(meta_info, 18846, seed=0, **small)
    assert every_post.X.shape == (18846, 16) and every_post.n_clusters == 20
    assert every_post.info["pool_size"] == 18846 and every_post.info["groups"] == "all"
    assert len(every_post.info["meta_categories"]) == 20
    assert sorted(np.bincount(every_post.y))[:2] == [628, 775]  # religion.misc, politics.misc
    meta_only = load_default(meta_info, 9545, seed=0, **{**small, "groups": "meta"})
    assert meta_only.n_clusters == 10 and meta_only.info["pool_size"] == 9545
    with pytest.raises(ValueError, match="only for BBC's feature space"):
        load_default(meta_info, 500, seed=0, groups="all")
    with pytest.raises(ValueError, match="groups must be one of"):
        load_default(meta_info, 500, seed=0, feature_space="bbc", groups="some")


def test_halves_of_the_meta_groups_are_disjoint_five_class_tuning_sets(mirror, datasets):
    meta_info = datasets.dataset("20newsgroups-meta")
    small = {"feature_space": "bbc", "n_components": 16}
    meta = load_default(meta_info, 9545, seed=0, **small)
    even = load_default(meta_info, 4959, seed=0, **small, groups="meta-even")
    odd = load_default(meta_info, 4586, seed=0, **small, groups="meta-odd")
    assert even.n_clusters == odd.n_clusters == 5 and even.info["pool_size"] == 4959
    assert even.info["meta_categories"] == meta.info["meta_categories"][0::2]
    assert odd.info["meta_categories"] == meta.info["meta_categories"][1::2]
    assert not set(map(bytes, even.X)) & set(map(bytes, odd.X))
    assert set(map(bytes, even.X)) | set(map(bytes, odd.X)) == set(map(bytes, meta.X))


def test_meta_image_substitutes(mirror, datasets):
    mnist = load_default(datasets.dataset("mnist"), 10000, seed=0, pool="test")
    assert np.bincount(mnist.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.images.shape == (10000, 1, 32, 32)
    omniglot = load_default(datasets.dataset("omniglot"), 4840, seed=0)
    assert omniglot.n_clusters == 242 and np.bincount(omniglot.y).tolist() == [20] * 242
    assert omniglot.images.shape == (4840, 1, 32, 32)
    assert omniglot.X.mean() < 0.2  # inverted: ink is 1 on a 0 background
    subset = load_default(datasets.dataset("omniglot"), 100, seed=1)
    assert subset.X.shape == (100, 1024)
    ten = load_default(datasets.dataset("omniglot"), 200, seed=1, characters=10)
    assert ten.n_clusters == 10 and np.bincount(ten.y).tolist() == [20] * 10
    assert len(set(ten.info["characters_chosen"])) == 10
    other = load_default(datasets.dataset("omniglot"), 200, seed=2, characters=10)
    assert other.info["characters_chosen"] != ten.info["characters_chosen"]
    # the drawings of a chosen character are the pool's drawings of that character
    full_rows = {bytes(row): label for row, label in zip(omniglot.X, omniglot.y, strict=True)}
    assert len({full_rows[bytes(row)] for row in ten.X}) == 10
    with pytest.raises(ValueError, match="fewer than n_points=300"):
        load_default(datasets.dataset("omniglot"), 300, seed=1, characters=10)


def test_corrupt_and_missing_files_are_clear_errors(mirror, datasets, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(home))
    (home / "bbc").mkdir(parents=True)
    data = (mirror / "bbc" / "bbc-fulltext.zip").read_bytes()
    (home / "bbc" / "bbc-fulltext.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDataError, match="bbc-fulltext.zip: corrupt zip archive"):
        load_default(datasets.dataset("bbc"), 2225, seed=0)
    shutil.copytree(mirror / "fashion-mnist", home / "fashion-mnist")
    labels = home / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-10])
    with pytest.raises(CorruptDataError, match="t10k-labels-idx1-ubyte.gz: checksum error"):
        load_default(datasets.dataset("fashion-mnist"), 1000, seed=0)

    monkeypatch.setenv("SUBSPACE_BENCH_MIRROR", str(tmp_path / "empty-mirror"))
    plugin_files = datasets.dataset("omniglot").load.__globals__["FILES"]
    for name, file in list(plugin_files.items()):
        monkeypatch.setitem(plugin_files, name, type(file)(file.dataset, file.name))
    with pytest.raises(MissingDataError, match="images_background_small1.zip not found"):
        load_default(datasets.dataset("omniglot"), 100, seed=0)


def test_fetch_fills_the_data_home_from_the_mirror(mirror, datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path / "home"))
    chosen = [datasets.dataset(i) for i in ("notmnist", "bbc", "miniimagenet")]
    outcomes = fetch_datasets(chosen, log=lambda line: None)
    assert outcomes["notmnist"] == outcomes["bbc"] == "ok"
    assert (
        outcomes["miniimagenet"].startswith("error:")
        and "no official download" in outcomes["miniimagenet"]
    )
    assert (tmp_path / "home" / "bbc" / "bbc-fulltext.zip").is_file()
    monkeypatch.setenv("SUBSPACE_BENCH_MIRROR", str(tmp_path / "no-mirror"))
    bundle = load_default(datasets.dataset("notmnist"), 1000, seed=0)
    assert {f["origin"] for f in bundle.info["files"].values()} == {"data home"}
