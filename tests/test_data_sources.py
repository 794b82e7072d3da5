"""Data sources without the mirror: data home, download (loopback HTTP server), checks,
readers, resizing, sampling, the feature cache and the text pipeline, on small fixtures."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import multiprocessing
import os
import pickle
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import (
    CorruptDataError,
    MissingDataError,
    UpstreamFile,
    balanced_indices,
    cached_arrays,
    data_home,
    fetch_datasets,
    fetch_file,
    locate,
    mirror_dir,
    read_bbc,
    read_idx,
    resize_images,
    strip_newsgroup_post,
    subset_indices,
    text_features,
    to_unit_gray,
)
from benchmark.data.images import bilinear_matrix, preprocess_images
from benchmark.plugins import DatasetInfo
from tests.data_fixtures import dataset_module, load_default

# ---------------------------------------------------------------- data home and mirror


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty data home and an empty mirror, set through the environment."""
    home, mirror = tmp_path / "home", tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(home))
    monkeypatch.setenv("SUBSPACE_BENCH_MIRROR", str(mirror))
    return home, mirror


def test_data_home_follows_the_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.delenv("SUBSPACE_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "subspace-bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert data_home() == tmp_path / "user" / ".cache" / "subspace-bench"
    monkeypatch.setenv("SUBSPACE_BENCH_DATA", str(tmp_path / "explicit"))
    assert data_home() == tmp_path / "explicit"
    monkeypatch.delenv("SUBSPACE_BENCH_MIRROR", raising=False)
    assert mirror_dir() is None
    monkeypatch.setenv("SUBSPACE_BENCH_MIRROR", str(tmp_path / "m"))
    assert mirror_dir() == tmp_path / "m"


# ---------------------------------------------------------------- download


class _Server:
    """A static HTTP server on 127.0.0.1 serving ``files`` (path → bytes) in a thread."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.hits.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


PAYLOAD = b"subspace-bench fixture payload\n" * 1000
PAYLOAD_SUMS = {
    "md5": hashlib.md5(PAYLOAD).hexdigest(),
    "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
}


@pytest.fixture
def server() -> Iterator[_Server]:
    corrupted = bytearray(PAYLOAD)
    corrupted[100] ^= 0xFF
    with _Server({"/good.bin": PAYLOAD, "/corrupt.bin": bytes(corrupted)}) as running:
        yield running


def test_download_verifies_checksums_and_lands_in_the_data_home(homes, server):
    home, _ = homes
    file = UpstreamFile("fixture", "good.bin", (server.url + "/good.bin",), PAYLOAD_SUMS)
    located = locate(file)
    assert located.path == home / "fixture" / "good.bin"
    assert located.path.read_bytes() == PAYLOAD
    assert located.origin == f"download: {server.url}/good.bin"
    assert located.verified == "upstream checksum"
    again = locate(file)
    assert again.origin == "data home" and len(server.hits) == 1


def test_corrupt_download_is_rejected_and_leaves_nothing(homes, server):
    home, _ = homes
    file = UpstreamFile("fixture", "data.bin", (server.url + "/corrupt.bin",), PAYLOAD_SUMS)
    with pytest.raises(CorruptDataError, match="corrupt.*md5 is"):
        locate(file)
    leftovers = [p.name for p in (home / "fixture").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_download_falls_back_to_the_next_url(homes, server):
    urls = (server.url + "/missing.bin", server.url + "/good.bin")
    located = locate(UpstreamFile("fixture", "good.bin", urls, PAYLOAD_SUMS))
    assert located.origin.endswith("/good.bin") and server.hits == ["/missing.bin", "/good.bin"]


def test_missing_file_message_says_where_to_put_it(homes, server):
    home, mirror = homes
    file = UpstreamFile("fixture", "absent.bin", (server.url + "/absent.bin",), PAYLOAD_SUMS)
    with pytest.raises(MissingDataError) as error:
        locate(file)
    message = str(error.value)
    assert str(home / "fixture" / "absent.bin") in message
    assert str(mirror / "fixture" / "absent.bin") in message
    assert "python -m benchmark fetch --datasets fixture" in message
    assert "404" in message
    manual = UpstreamFile("fixture", "manual.bin", how_to_get="Ask the curator.")
    with pytest.raises(MissingDataError, match="Ask the curator"):
        locate(manual)


# ---------------------------------------------------------------- lookup order and checks


def _put(root: Path, name: str, data: bytes) -> Path:
    path = root / "fixture" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_data_home_comes_before_the_mirror(homes):
    home, mirror = homes
    file = UpstreamFile("fixture", "f.bin", checksums=PAYLOAD_SUMS)
    _put(mirror, "f.bin", PAYLOAD)
    assert locate(file).origin == "mirror"
    _put(home, "f.bin", PAYLOAD)
    assert locate(file).origin == "data home"


def test_checksum_mismatch_names_the_file_and_the_fix(homes):
    _, mirror = homes
    bad = _put(mirror, "f.bin", PAYLOAD + b"x")
    file = UpstreamFile("fixture", "f.bin", ("http://example.invalid/f.bin",), PAYLOAD_SUMS)
    with pytest.raises(CorruptDataError) as error:
        locate(file)
    assert str(bad) in str(error.value) and "checksum error" in str(error.value)
    assert "fetch --datasets fixture" in str(error.value)
    repacked = UpstreamFile("fixture", "f.bin", checksums=PAYLOAD_SUMS, repacked_ok=True)
    assert locate(repacked).verified.startswith("content (re-packed")


def test_fetch_file_copies_from_the_mirror_into_the_data_home(homes):
    home, mirror = homes
    _put(mirror, "f.bin", PAYLOAD)
    located = fetch_file(UpstreamFile("fixture", "f.bin", checksums=PAYLOAD_SUMS))
    assert located.path == home / "fixture" / "f.bin" and located.origin == "data home"
    assert located.path.read_bytes() == PAYLOAD


def test_fetch_datasets_reports_each_outcome(homes):
    def broken() -> None:
        locate(UpstreamFile("fixture", "nowhere.bin"))

    infos = [
        DatasetInfo(
            id="ok", name="ok", load=lambda *a: None, default_sizes=(1,), fetch=lambda: None
        ),
        DatasetInfo(id="bad", name="bad", load=lambda *a: None, default_sizes=(1,), fetch=broken),
        DatasetInfo(id="none", name="none", load=lambda *a: None, default_sizes=(1,)),
    ]
    lines: list[str] = []
    outcomes = fetch_datasets(infos, log=lines.append)
    assert outcomes["ok"] == "ok" and outcomes["none"] == "nothing to fetch"
    assert outcomes["bad"].startswith("error: dataset file fixture/nowhere.bin not found")
    assert len(lines) == 4


# ---------------------------------------------------------------- idx reader


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def test_idx_reader_round_trips_plain_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "raw-idx3-ubyte").write_bytes(_idx_bytes(images))
    (tmp_path / "gz-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-idx3-ubyte"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "gz-idx3-ubyte.gz"), images)


def test_idx_reader_rejects_truncated_and_corrupt_files(tmp_path):
    data = _idx_bytes(np.zeros((4, 5, 5), dtype=np.uint8))
    (tmp_path / "short").write_bytes(data[:-7])
    with pytest.raises(CorruptDataError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + data[2:])
    with pytest.raises(CorruptDataError, match="not an idx file"):
        read_idx(tmp_path / "magic")
    broken = bytearray(gzip.compress(data))
    broken[len(broken) // 2 :] = b"\x00" * (len(broken) - len(broken) // 2)
    (tmp_path / "broken.gz").write_bytes(bytes(broken))
    with pytest.raises(CorruptDataError, match="broken.gz"):
        read_idx(tmp_path / "broken.gz")


# ---------------------------------------------------------------- images and sampling


@pytest.mark.parametrize("shape", [(28, 28), (84, 84), (105, 105), (20, 40)])
def test_resize_matches_pillow_bilinear(shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = np.asarray(Image.fromarray(image, mode="F").resize((32, 32), Image.BILINEAR))
    np.testing.assert_allclose(resize_images(image[None], 32)[0], expected, atol=1e-5)


def test_resize_weights_and_gray_conversion():
    for sizes in [(28, 32), (105, 32)]:
        np.testing.assert_allclose(bilinear_matrix(*sizes).sum(axis=1), 1.0)
    rgb = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    rgb[..., 1] = 255
    np.testing.assert_allclose(to_unit_gray(rgb), 0.587, rtol=1e-6)
    pixels = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    chunked = preprocess_images(pixels, 32, chunk=2)
    np.testing.assert_array_equal(chunked, resize_images(pixels / np.float32(255), 32))
    assert chunked.dtype == np.float32 and chunked.min() >= 0 and chunked.max() <= 1


def test_balanced_indices_are_equal_per_class_and_seeded():
    labels = np.repeat(np.arange(4), [10, 12, 9, 30])
    first = balanced_indices(labels, 36, 4, seed=0)
    assert np.bincount(labels[first]).tolist() == [9, 9, 9, 9]
    np.testing.assert_array_equal(first, balanced_indices(labels, 36, 4, seed=0))
    assert not np.array_equal(first, balanced_indices(labels, 36, 4, seed=1))
    with pytest.raises(ValueError, match="equal counts over 4 classes"):
        balanced_indices(labels, 10, 4, seed=0)
    with pytest.raises(ValueError, match="at most 36"):
        balanced_indices(labels, 40, 4, seed=0)
    assert subset_indices(5, 5, seed=3).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="pool's 5 samples"):
        subset_indices(5, 6, seed=0)


# ---------------------------------------------------------------- feature cache


def test_cache_builds_once_and_a_changed_key_rebuilds(homes):
    calls: list[int] = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"X": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(7)}

    first, digest = cached_arrays("fixture", {"sha": "abc", "dim": 3}, build)
    second, same = cached_arrays("fixture", {"dim": 3, "sha": "abc"}, build)
    assert len(calls) == 1 and digest == same
    np.testing.assert_array_equal(first["X"], second["X"])
    assert int(second["n"]) == 7 and not second["X"].flags.writeable
    _, other = cached_arrays("fixture", {"sha": "abc", "dim": 4}, build)
    assert len(calls) == 2 and other != digest


def test_cache_ignores_half_written_entries(homes):
    home, _ = homes
    build = lambda: {"X": np.ones(3)}  # noqa: E731
    _, digest = cached_arrays("fixture", {"k": 1}, build)
    entry = home / "features" / "fixture" / digest
    (entry / "X.npy").unlink()  # an entry damaged by hand is rebuilt
    (entry.parent / f".tmp-{digest}.stale").mkdir()  # an abandoned build is ignored
    arrays, _ = cached_arrays("fixture", {"k": 1}, build)
    np.testing.assert_array_equal(arrays["X"], np.ones(3))


def _build_in_child(home: str, log: str, queue: multiprocessing.Queue) -> None:
    os.environ["SUBSPACE_BENCH_DATA"] = home

    def build() -> dict[str, np.ndarray]:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        return {"X": np.arange(1000, dtype=np.float64)}

    arrays, _ = cached_arrays("race", {"k": "same"}, build)
    queue.put(float(np.asarray(arrays["X"]).sum()))


def test_two_processes_building_one_entry_build_it_once(tmp_path):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    log = tmp_path / "builds.log"
    children = [
        context.Process(target=_build_in_child, args=(str(tmp_path / "home"), str(log), queue))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0]
    assert sorted(queue.get(timeout=5) for _ in children) == [499500.0, 499500.0]
    assert len(log.read_text().split()) == 1


# ---------------------------------------------------------------- text


def test_text_features_fit_on_target_only_and_are_deterministic():
    target = [f"alpha beta topic{i % 3} common words here" for i in range(30)]
    target += [f"gamma delta subject{i % 4} other words there" for i in range(30)]
    other = ["zeta eta theta never seen in target", "alpha gamma topic1"]
    settings = {
        "stop_words": "english",
        "min_df": 2,
        "max_df": 0.9,
        "max_features": None,
        "sublinear_tf": True,
        "svd_random_state": 0,
        "normalize": "l2",
        "n_components": 4,
    }
    X, X_other = text_features(target, settings, other)
    assert X.shape == (60, 4) and X_other.shape == (2, 4) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert np.allclose(X_other[0], 0.0)  # no target word: the zero vector, not a new basis
    again, _ = text_features(target, settings, other)
    np.testing.assert_array_equal(X, again)
    with pytest.raises(ValueError, match="n_components=500"):
        text_features(target, {**settings, "n_components": 500})


def test_newsgroup_post_stripping():
    post = (
        "From: someone@example.org\nNewsgroups: sci.space\nSubject: orbits\n\n"
        "In article <1@x> other@example.org writes:\n> quoted text\n| also quoted\n"
        "My own answer about orbits.\n--\nSome Signature\n"
    )
    stripped = strip_newsgroup_post(post, headers=True, footers=True, quotes=True)
    assert stripped.strip() == "orbits\nMy own answer about orbits."
    headers_only = strip_newsgroup_post(post, True, False, False)
    assert "Newsgroups" not in headers_only and "sci.space" not in headers_only
    assert strip_newsgroup_post("Subject: only a header\n", True, False, False) == "only a header\n"
    assert "quoted text" in strip_newsgroup_post(post, True, False, False)


def _bbc_zip(path: Path, counts: dict[str, int], extra: bytes = b"") -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bbc/README.TXT", "fixture")
        for label, count in counts.items():
            for i in range(count):
                archive.writestr(f"bbc/{label}/{i + 1:03d}.txt", f"{label} story {i}".encode())
        if extra:
            archive.writestr("bbc/sport/099.txt", extra)


def test_bbc_reader_checks_counts_and_decodes_latin1(tmp_path, monkeypatch):
    import benchmark.data.corpora as corpora

    monkeypatch.setattr(corpora, "BBC_COUNTS", {"sport": 3, "tech": 2})
    _bbc_zip(tmp_path / "ok.zip", {"sport": 2, "tech": 2}, extra=b"cost \xa3100")
    corpus = read_bbc(tmp_path / "ok.zip")
    assert corpus.decoded_as_latin1 == 1 and "cost \u00a3100" in corpus.texts
    assert corpus.classes == ["sport"] * 3 + ["tech"] * 2
    _bbc_zip(tmp_path / "short.zip", {"sport": 3, "tech": 1})
    with pytest.raises(CorruptDataError, match=r"tech: 1 \(expected 2\)"):
        read_bbc(tmp_path / "short.zip")
    (tmp_path / "cut.zip").write_bytes((tmp_path / "ok.zip").read_bytes()[:200])
    with pytest.raises(CorruptDataError, match="corrupt zip archive"):
        read_bbc(tmp_path / "cut.zip")


# ---------------------------------------------------------------- notMNIST PNG layout


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((28, 28), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_notmnist_reads_the_upstream_png_layout_and_skips_unreadable(homes):
    home, _ = homes
    folder = home / "notmnist" / "notMNIST_small"
    for index, letter in enumerate("ABCDEFGHIJ"):
        (folder / letter).mkdir(parents=True)
        for i in range(2):
            (folder / letter / f"img{i}.png").write_bytes(_png(10 * index + i))
    (folder / "A" / "broken.png").write_bytes(b"\x89PNG not really")
    plugin = dataset_module("notmnist.py")
    bundle = load_default(plugin.DATASET, 10, seed=0, source="png")
    assert bundle.info["source"] == "png" and bundle.info["unreadable_skipped"] == ["A/broken.png"]
    assert bundle.images.shape == (10, 1, 32, 32) and sorted(bundle.y) == list(range(10))
    assert bundle.info["pool_size"] == 20
    np.testing.assert_allclose(
        bundle.images[bundle.y == 3].mean(), (30 + np.arange(2)).mean() / 255, atol=0.004
    )
    with tarfile.open(home / "notmnist" / "notMNIST_small.tar.gz", "w:gz") as archive:
        archive.add(folder, arcname="notMNIST_small")
    os.rename(folder, home / "moved")
    from_tar = load_default(plugin.DATASET, 20, seed=0, source="png")
    assert from_tar.info["files"]["notMNIST_small.tar.gz"]["origin"] == "data home"
    assert from_tar.info["unreadable_skipped"] == ["A/broken.png"]


# ---------------------------------------------------------------- miniImageNet fixture


@pytest.fixture
def mini(monkeypatch):
    plugin = dataset_module("miniimagenet.py")
    monkeypatch.setattr(plugin, "SPLIT_CLASSES", {"train": 2, "val": 1, "test": 1})
    monkeypatch.setattr(plugin, "IMAGES_PER_CLASS", 3)
    return plugin


def _mini_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 84, 84, 3), dtype=np.uint8)


def test_miniimagenet_pickle_format(homes, mini):
    home, _ = homes
    (home / "miniimagenet").mkdir(parents=True)
    images = _mini_images(6, 0)
    content = {"image_data": images, "class_dict": {"n02": [1, 3, 5], "n01": [0, 2, 4]}}
    with open(home / "miniimagenet" / "mini-imagenet-cache-train.pkl", "wb") as handle:
        pickle.dump(content, handle)
    bundle = load_default(mini.DATASET, 6, seed=0)
    assert bundle.images.shape == (6, 1, 32, 32) and bundle.n_clusters == 2
    assert bundle.y.tolist() == [0, 1, 0, 1, 0, 1]  # n01 is class 0
    gray = images.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]) / 255
    np.testing.assert_allclose(bundle.images[:, 0], resize_images(gray, 32), atol=1e-5)
    assert bundle.info["files"]["train"]["format"] == "pickle"


def test_miniimagenet_folder_format_and_wrong_counts(homes, mini):
    home, _ = homes
    for label, name in enumerate(["n01", "n02"]):
        (home / "miniimagenet" / "train" / name).mkdir(parents=True)
        for i, pixels in enumerate(_mini_images(3, label)):
            Image.fromarray(pixels).save(home / "miniimagenet" / "train" / name / f"{i}.png")
    Image.fromarray(_mini_images(1, 9)[0]).resize((100, 90)).save(
        home / "miniimagenet" / "train" / "n02" / "3.jpg"
    )
    with pytest.raises(CorruptDataError, match="2 classes of 3 images; found 2 classes of 3 to 4"):
        load_default(mini.DATASET, 6, seed=0)
    (home / "miniimagenet" / "train" / "n02" / "3.jpg").unlink()
    bundle = load_default(mini.DATASET, 4, seed=1)
    assert bundle.images.shape == (4, 1, 32, 32)
    assert bundle.info["files"]["train"]["format"] == "folder"


def test_miniimagenet_missing_says_how_to_get_it_and_pickles_are_restricted(homes, mini):
    home, _ = homes
    with pytest.raises(MissingDataError, match="no official download.*meta_source=mnist"):
        load_default(mini.DATASET, 6, seed=0)

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    (home / "miniimagenet").mkdir(parents=True)
    with open(home / "miniimagenet" / "mini-imagenet-cache-train.pkl", "wb") as handle:
        pickle.dump({"image_data": Evil(), "class_dict": {}}, handle)
    with pytest.raises(CorruptDataError, match="refusing to load"):
        load_default(mini.DATASET, 6, seed=0)
