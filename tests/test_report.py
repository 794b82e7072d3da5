"""``python -m benchmark report``: the HTML page of real records, opened in headless Chromium.

The browser test needs Debian's Chromium and its driver (``apt-get install -y chromium
chromium-driver``) and the ``selenium`` package (the ``test`` extra); without them it is
skipped, or fails with ``SUBSPACE_BENCH_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import functools
import os
import re
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
from PIL import Image

from benchmark import verify_ledger
from benchmark.cli import main
from benchmark.report import write_report
from benchmark.store import Store
from benchmark.tables import LOADED_NOTE, TABLE_TITLES, paper_values

from .conftest import FIXTURE_PLUGINS

REQUIRE_BROWSER_ENV = "SUBSPACE_BENCH_REQUIRE_BROWSER"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
)  # fmt: skip
FIGURES = {"accuracy-vs-fit-time.png": (64, 48), "fig3/affinity-synthetic.png": (40, 40)}
"""Figures put in ``OUT/figures/`` (path → width, height), one in a sub-folder."""


def require_browser() -> None:
    """Skip the test without Chromium, its driver or selenium; fail instead under
    ``SUBSPACE_BENCH_REQUIRE_BROWSER=1``."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if not missing:
        return
    reason = (
        f"headless browser test needs {', '.join(missing)}; install the browser with "
        "`apt-get install -y chromium chromium-driver`"
    )
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_BROWSER_ENV}=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder made by real runs (k-means ok, a faulty method failing, two seeds
    each, on the synthetic dataset) plus two PNG figures, and its report."""
    out = tmp_path_factory.mktemp("report") / "out"
    code = main([
        "run", "--methods", "kmeans,faulty", "--datasets", "synthetic", "--seeds", "0,1",
        "--set", "faulty.mode='raise'", "--executor", "debug", "--out", str(out),
        "--plugins", str(FIXTURE_PLUGINS),
    ])  # fmt: skip
    assert code == 1  # the faulty tasks failed
    for name, size in FIGURES.items():
        path = out / "figures" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (30, 120, 200)).save(path)
    assert main(["report", "--out", str(out), "--plugins", str(FIXTURE_PLUGINS)]) == 0
    return out


@pytest.fixture
def served(out: Path) -> Iterator[str]:
    """The report folder served over http on localhost; yields the page's URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(out / "report"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through chromedriver, logging the page's console."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_report_opens_in_headless_chromium(out, served, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(served)
    assert browser.title == f"subspace-bench report: {out.name}"
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert all(TABLE_TITLES[t] in headings for t in TABLE_TITLES)

    # every table rendered: visible, with a header and at least one row
    tables = browser.find_elements(By.TAG_NAME, "table")
    assert len(tables) >= 8  # Table 1's four paper blocks + synthetic, cost, failures, ...
    for table in tables:
        assert table.is_displayed() and table.size["height"] > 0
        assert table.find_elements(By.CSS_SELECTOR, "thead th")
        assert table.find_elements(By.CSS_SELECTOR, "tbody tr")

    # Table 1's block of the dataset that was run: k-means's ACC is the mean of its records
    block = browser.find_element(
        By.XPATH,
        "//section[@id='table-1']/h3[starts-with(., 'synthetic, n = 300')]"
        "/following-sibling::table[1]",
    )
    rows = {
        row.find_element(By.TAG_NAME, "th").text: row
        for row in block.find_elements(By.CSS_SELECTOR, "tbody tr:not(.separator)")
    }
    records = Store(out).records()
    kmeans_acc = mean(r["metrics"]["acc"] for r in records if r["method"] == "kmeans")
    acc_cell = rows["k-means"].find_elements(By.TAG_NAME, "td")[0].text
    assert re.fullmatch(rf"{kmeans_acc:.3f} ± \d\.\d{{3}} \(n=2\)", acc_cell), acc_cell
    faulty = rows["Faulty"]
    assert "not-ok" in faulty.get_attribute("class") and "2 failed" in faulty.text
    assert "missing" in faulty.find_elements(By.TAG_NAME, "td")[0].get_attribute("class")

    # the paper's numbers beside ours: BBC's SSC row holds the paper's ACC
    paper = paper_values()
    ssc_acc = paper.query("table == 1 and dataset == 'bbc' and method == 'SSC' and metric == 'acc'")
    bbc = browser.find_element(
        By.XPATH, "//section[@id='table-1']/h3[starts-with(., 'bbc')]/following-sibling::table[1]"
    )
    assert [th.text for th in bbc.find_elements(By.CSS_SELECTOR, "thead th.paper")] == [
        "paper (Δ)"
    ] * 3
    ssc_row = bbc.find_element(By.XPATH, ".//tr[th='SSC']")
    assert ssc_row.find_element(By.CSS_SELECTOR, "td.paper").text == f"{ssc_acc.value.iloc[0]:.3f}"

    # every figure loaded, at its own size, captioned by its file stem
    images = browser.find_elements(By.CSS_SELECTOR, "#figures img")
    assert len(images) == len(FIGURES)
    for image, (name, (width, height)) in zip(images, sorted(FIGURES.items()), strict=True):
        loaded = browser.execute_script(
            "return [arguments[0].complete, arguments[0].naturalWidth, arguments[0].naturalHeight]",
            image,
        )
        assert loaded == [True, width, height], name
        caption = image.find_element(By.XPATH, "following-sibling::figcaption").text
        assert caption == Path(name).stem

    # the failures with their reasons, and the machine the records come from
    failures = browser.find_element(By.ID, "failures").text
    for record in records:
        if record["status"] == "failed":
            assert record["task_id"] in failures
    assert "RuntimeError: faulty method raised on purpose" in failures
    assert socket.gethostname() in browser.find_element(By.ID, "machines").text

    # no error in the console (a broken image or stylesheet would log one)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []

    # a screenshot of the whole page
    height, chrome = browser.execute_script(
        "return [document.body.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    browser.set_window_size(1400, height + chrome)
    screenshot = tmp_path / "report.png"
    assert browser.save_screenshot(str(screenshot))
    with Image.open(screenshot) as shot:
        assert shot.size[0] > 1000 and shot.size[1] >= height


def test_report_copies_figures_beside_the_page_and_says_where_it_is(out, capsys):
    for name in FIGURES:
        assert (out / "report" / "figures" / name).read_bytes() == (
            out / "figures" / name
        ).read_bytes()
    to = out.parent / "elsewhere"
    assert main(["report", "--out", str(out), "--to", str(to)]) == 0
    assert f"wrote {to / 'index.html'}" in capsys.readouterr().out


def _record(task_id: str, method: str, seed: int, **extra: Any) -> dict[str, Any]:
    return {
        "task_id": task_id, "method": method, "dataset": "bbc", "n_points": 2225,
        "seed": seed, "variant": "", "params": {}, "dataset_params": {}, "status": "ok",
        "metrics": {"acc": 0.8, "nmi": 0.7, "ari": 0.6}, "fit_time_s": 2.0,
        "peak_mem_mb": 300.0, **extra,
    }  # fmt: skip


def test_page_marks_oracle_loaded_failed_and_missing_cells_and_escapes_text(tmp_path):
    store = Store(tmp_path / "out")
    loaded = {"cpus": 2, "start": 5.0, "end": 1.0, "max": 5.0}
    error = "Traceback (most recent call last):\nValueError: <b>bad</b> & worse"
    for record in (
        _record("a", "ssc", 0, machine_load=loaded),
        _record("b", "ssc", 1, status="failed", metrics=None, error=error),
        _record("c", "lrr", 0, tuning="oracle"),
    ):
        store.write_record(record)
    names = {"ssc": "SSC", "lrr": "LRR <script>alert(1)</script>"}
    page = write_report(store.root, tmp_path / "page", {}, names).read_text()

    assert "<script>" not in page and "LRR &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt; &amp; worse" in page  # in Failures
    ssc = re.search(r'<tr class="not-ok loaded"><th>SSC</th>(.*?)</tr>', page).group(1)
    assert "1 failed" in ssc and LOADED_NOTE in ssc
    assert re.search(r'<td class="oracle">0\.800 ± 0\.000 \(n=1\) †</td>', page)
    assert '<td class="missing">missing</td>' in page  # e.g. EnSC, never run
    assert "python -m benchmark plot --out" in page  # no figures yet: how to make them


def test_page_counts_the_records_a_rerun_reproduced_and_lists_the_rest(tmp_path):
    store = Store(tmp_path / "out")
    for record in (
        _record("a", "ssc", 0),
        _record("b", "ssc", 1),
        _record("c", "lrr", 0),
        _record("d", "lrr", 1),
        _record("e", "lrr", 2, status="failed", metrics=None),
    ):
        store.write_record(record)
    records = {r["task_id"]: r for r in store.records()}
    today = verify_ledger.code_digest()
    for task_id, verdict, code in [
        ("a", "matched", today),
        ("b", "differs", today),
        ("c", "matched", "older code"),
    ]:
        line = verify_ledger.entry(records[task_id], verdict, "exact", {}, code, None)
        verify_ledger.append(store.root, line)
    names = {"ssc": "SSC", "lrr": "LRR"}
    page = write_report(store.root, tmp_path / "page", {}, names).read_text()

    count = "1 of 4 ok records matched a rerun under this code"
    assert f"<dt>reproduced</dt><dd>{count}</dd>" in page
    section = page[page.index('<section id="verification">') :]
    section = section[: section.index("</section>")]
    assert f"<p>{count} (" in section
    assert "<tr><td>SSC</td><td>2</td><td>1</td><td>0</td><td>1</td>" in section
    assert "<tr><td>LRR</td><td>2</td><td>0</td><td>1</td><td>0</td><td>0</td><td>1</td>" in section
    listed = section[section.index("Not matched under this code (3)") :]
    rows = re.findall(r"<tr><td>(\w)</td><td>\w+</td><td>bbc</td><td>2225</td><td>\d</td>"
                      r"<td>([\w-]+)</td></tr>", listed)  # fmt: skip
    assert rows == [("c", "matched-older-code"), ("d", "not-verified"), ("b", "differs")]
    assert f"python -m benchmark verify --out {store.root} --unverified" in section


def test_report_without_records_says_what_to_do(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "empty")]) == 2
    assert "no records in" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "report").exists()
