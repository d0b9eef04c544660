"""The catalogue pages in a real headless browser (Debian ``chromium`` + ``chromedriver`` driven by
Selenium; no browser download): ``fute serve`` on loopback over a small real catalogue (packaged
datasets embedded with the real MiniLM TextEmb space, measured transfer results, one catalogue job).
The browser resolves no host but loopback, so every page (``/docs`` included) is shown offline.

Screenshots go to ``test-artifacts/web/``. Without chromium the tests skip locally, but fail in CI
(``CI=true`` or ``FUTE_REQUIRE_BROWSER=1``): CI must never pass by skipping them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fute.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SPACE = "txt"
CATALOGUE = """
spaces:
  - {name: txt, method: textemb, params: {max_examples: 16}}
datasets:
  - {source: pkg:sst2, name: sst2, tags: {family: sentiment}, limit: 64}
  - {source: pkg:drugreview-sentiment, name: drug-sentiment, tags: {family: sentiment}, limit: 64}
  - {source: pkg:20newsgroups, name: newsgroups, tags: {family: topic}, limit: 64}
  - {source: pkg:bbcnews, name: bbc, tags: {family: topic}, limit: 64}
  - {source: pkg:rte, name: rte, tags: {family: nli}, limit: 64}
"""
TRANSFERS = [("sst2", "drug-sentiment", 0.8), ("newsgroups", "drug-sentiment", 0.3), ("bbc", "drug-sentiment", 0.2),
             ("rte", "drug-sentiment", 0.1), ("drug-sentiment", "sst2", 0.7), ("newsgroups", "sst2", 0.4),
             ("bbc", "sst2", 0.3), ("rte", "sst2", 0.2), ("bbc", "newsgroups", 0.9), ("sst2", "newsgroups", 0.3),
             ("rte", "newsgroups", 0.2), ("drug-sentiment", "newsgroups", 0.1)]  # fmt: skip


def browser_missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, DRIVER):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install -y chromium chromium-driver)"
    return None


def require_browser() -> None:
    """Skip without a browser locally; fail in CI, where .ci/run installs one."""
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true") or os.environ.get("FUTE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def cli(home: Path, *args: str) -> Any:
    """Run ``fute --home HOME ARGS --json`` in-process; returns the parsed JSON output."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--home", str(home), *args, "--json"])
    assert code == 0, buf.getvalue()
    return json.loads(buf.getvalue())


@dataclass
class Site:
    """The running server and its registry home."""

    url: str
    home: Path
    tmp: Path


def build_catalogue(tmp: Path) -> Path:
    """Init a home, run the catalogue job, import the transfer results."""
    home = tmp / "home"
    assert main(["--home", str(home), "init"]) == 0
    (tmp / "cat.yaml").write_text(CATALOGUE)
    assert main(["--home", str(home), "ingest", "catalogue", str(tmp / "cat.yaml")]) == 0
    (tmp / "tr.csv").write_text("source,target,score\n" + "".join(f"{s},{t},{v}\n" for s, t, v in TRANSFERS))
    assert main(["--home", str(home), "transfer", "import", str(tmp / "tr.csv")]) == 0
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"fute serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail("fute serve did not answer in 60 s")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``fute serve`` (the real CLI command, in a subprocess) over the catalogue."""
    require_browser()
    tmp = tmp_path_factory.mktemp("web")
    home = build_catalogue(tmp)
    port, log = free_port(), tmp / "serve.log"
    env = {**os.environ, "FUTE_API_TOKEN": "", "HF_HUB_OFFLINE": "1"}
    with log.open("wb") as out:
        cmd = [sys.executable, "-m", "fute.cli", "--home", str(home), "serve", "--port", str(port)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, proc, log)
        yield Site(url, home, tmp)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    """Headless chromium through the system chromedriver (Selenium Manager never runs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1300,1000",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no network but loopback
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.implicitly_wait(5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver: Any, name: str) -> None:
    """Save a screenshot artifact and check the page logged no error (a CSP violation would)."""
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def rows(driver: Any, table_id: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")


def test_list_to_subject_page_ranking_equals_cli(site: Site, browser: Any) -> None:
    browser.get(site.url + "/")
    names = [r.get_attribute("data-name") for r in rows(browser, "list-dataset")]
    assert names == ["bbc", "drug-sentiment", "newsgroups", "rte", "sst2"]
    shot(browser, "01-list")
    css(browser, '#list-dataset tr[data-name="sst2"] a').click()
    assert browser.current_url.endswith("/ui/subject/dataset/sst2") and browser.title.startswith(
        "dataset sst2"
    )
    cli_json = cli(site.home, "query", "sources", "--target", "sst2", "--space", SPACE, "-k", "5")
    shown = [
        (r.get_attribute("data-name"), r.find_elements("tag name", "td")[3].text)
        for r in rows(browser, "rank-sources")
    ]
    assert shown == [(r["name"], f"{r['score']:.4f}") for r in cli_json["results"]]
    assert len(shown) == 4  # every other dataset, the target excluded
    assert "textemb" in css(browser, "#provenance").text
    shot(browser, "02-subject-sst2")


def test_subject_map_point_clicks_through(site: Site, browser: Any) -> None:
    browser.get(site.url + "/ui/subject/dataset/sst2")
    assert css(browser, "g.pt.hi").get_attribute("data-name") == "sst2"  # its own place is ringed
    css(browser, 'g.pt[data-name="bbc"] circle').click()
    assert "/ui/subject/dataset/bbc" in browser.current_url and browser.title.startswith("dataset bbc")
    shot(browser, "03-subject-bbc-from-map")


def test_map_page_hover_and_click(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    browser.get(site.url + "/ui/map?color=tag:family")
    points = browser.find_elements("css selector", "g.pt")
    assert sorted(p.get_attribute("data-name") for p in points) == [
        "bbc",
        "drug-sentiment",
        "newsgroups",
        "rte",
        "sst2",
    ]
    groups = {p.get_attribute("data-name"): p.get_attribute("data-group") for p in points}
    assert groups["sst2"] == groups["drug-sentiment"] == "sentiment" and groups["bbc"] == "topic"
    target = css(browser, 'g.pt[data-name="newsgroups"] circle')
    ActionChains(browser).move_to_element(target).perform()
    tip = css(browser, "#tip")
    assert tip.is_displayed() and tip.text == "newsgroups (dataset, topic)"
    shot(browser, "04-map-hover")
    target.click()
    assert "/ui/subject/dataset/newsgroups" in browser.current_url


def test_standalone_map_file_hover(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    out = site.tmp / "map.html"
    printed = cli(site.home, "map", "--out", str(out), "--color", "tag:family")
    assert printed["space"] == SPACE and len(printed["points"]) == 5
    browser.get(out.as_uri())  # a file:// page: works with no server and no network
    ActionChains(browser).move_to_element(css(browser, 'g.pt[data-name="sst2"] circle')).perform()
    assert css(browser, "#tip").text == "sst2 (dataset, sentiment)"
    shot(browser, "05-standalone-map-file")


def test_eval_page_matches_fute_eval(site: Site, browser: Any) -> None:
    browser.get(site.url + "/ui/eval")
    report = cli(site.home, "eval", "--space", SPACE)
    table = {
        r.get_attribute("data-target"): [td.text for td in r.find_elements("tag name", "td")]
        for r in rows(browser, "eval")
    }
    assert sorted(table) == sorted([*report["targets"], "mean", "random"])
    assert (
        table["mean"][1] == f"{report['mean']['ndcg']:.3f}"
        and table["random"][1] == f"{report['random']['ndcg']:.3f}"
    )
    for target, metrics in report["targets"].items():
        assert table[target][1] == f"{metrics['ndcg']:.3f}"
    assert len(browser.find_elements("css selector", "svg.bars rect.bar")) >= len(report["targets"]) + 1
    shot(browser, "06-eval")


def test_jobs_page_progress_and_refresh(site: Site, browser: Any) -> None:
    browser.get(site.url + "/ui/jobs")
    job = css(browser, '#jobs tr[data-job="1"]')
    assert job.get_attribute("data-status") == "done"
    bar = job.find_element("tag name", "progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "11"
    css(browser, "details summary").click()
    assert len(rows(browser, "entries-1")) == 11
    shot(browser, "07-jobs")
    extra = site.tmp / "extra.yaml"  # a second job while the page is open: the page refreshes itself
    extra.write_text("datasets:\n  - {source: pkg:cb, name: cb, tags: {family: nli}, limit: 32}\n")
    assert main(["--home", str(site.home), "ingest", "catalogue", str(extra)]) == 0
    deadline = time.monotonic() + 20
    while not browser.find_elements("css selector", '#jobs tr[data-job="2"]') and time.monotonic() < deadline:
        time.sleep(0.5)
    assert css(browser, '#jobs tr[data-job="2"]').get_attribute("data-status") in ("running", "done")
    shot(browser, "08-jobs-refreshed")


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether two DOMRects (``getBoundingClientRect`` dicts) overlap."""
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


RECT_JS = "const r = arguments[0].getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};"


def test_provenance_is_a_readable_table(site: Site, browser: Any) -> None:
    browser.get(site.url + "/ui/subject/dataset/sst2")
    prov = css(browser, f'#provenance table.prov[data-space="{SPACE}"]')
    fields = {
        r.find_element("tag name", "th").text: r.find_element("tag name", "td").text
        for r in prov.find_elements("css selector", "tr")
    }
    assert fields["method"] == "textemb" and fields["kind"] == "dte" and int(fields["n_examples"]) > 0
    assert {"content_hash", "space_fingerprint", "surrogate", "seconds"} <= set(fields)
    assert not any(v.lstrip().startswith(("{", "[")) for v in fields.values())  # no raw JSON
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script(RECT_JS, prov)["right"] <= width  # fits the window: no sideways scroll
    browser.execute_script("arguments[0].scrollIntoView()", prov)
    shot(browser, "09-provenance")


def test_docs_render_offline(site: Site, browser: Any) -> None:
    browser.get(site.url + "/docs")
    title = css(browser, ".swagger-ui .info .title")  # Swagger UI drew the API from /openapi.json
    assert title.is_displayed() and "FUTE" in title.text
    assert len(browser.find_elements("css selector", ".opblock")) >= 5
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(site.url + "/") for url in loaded), loaded  # nothing from outside
    shot(browser, "10-docs")


def test_svg_map_axes_and_title_in_browser(site: Site, browser: Any) -> None:
    browser.get(site.url + "/ui/map")
    ticks = browser.find_elements("css selector", "svg.taskmap g.axes text.tick")
    assert len(ticks) >= 6 and all(t.is_displayed() for t in ticks)
    title = browser.execute_script(RECT_JS, css(browser, "svg.taskmap > text"))
    labels = [browser.execute_script(RECT_JS, t) for t in browser.find_elements("css selector", "g.pt text")]
    assert labels and not any(boxes_overlap(title, b) for b in labels)
    shot(browser, "11-map-axes")


def test_png_map_labels_do_not_overlap(site: Site) -> None:
    import matplotlib.pyplot as plt

    from fute.map_render import draw_png
    from query.taskmap import build_map
    from registry.api import Registry
    from registry.settings import Settings

    reg = Registry(Settings.build(home=site.home))
    try:
        tmap = build_map(reg, SPACE)
    finally:
        reg.close()
    for color_by in ("kind", "tag:family"):
        fig = draw_png(tmap, color_by)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        fig.savefig(ARTIFACTS / f"12-map-{color_by.replace(':', '-')}.png")
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        ax = fig.axes[0]
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(boxes) == len(tmap.points)
        assert not any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i))
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert len(legend) == len(set(legend))
        plt.close(fig)


def test_space_switcher_changes_the_space(site: Site, browser: Any) -> None:
    """Runs last: it adds a second, smaller space (the default stays the one with most vectors)."""
    from selenium.webdriver.support.ui import Select

    cli(site.home, "spaces", "create", "alt", "--method", "textemb", "--param", "max_examples=8")
    for name in ("sst2", "bbc", "newsgroups"):
        cli(site.home, "embed", name, "--space", "alt")
    browser.get(site.url + "/ui/subject/dataset/sst2")
    assert f"space {SPACE}" in css(browser, "#space-title").text.replace("rankings in ", "")
    assert SPACE in css(browser, "#space-note").text  # the rule says which space it chose
    switch = Select(css(browser, "#space-switch select"))
    assert sorted(o.text for o in switch.options) == ["alt", SPACE]
    switch.select_by_value("alt")
    css(browser, "#space-switch button").click()
    assert browser.current_url.endswith("/ui/subject/dataset/sst2?space=alt")
    assert "space alt" in css(browser, "#space-title").text.replace("rankings in ", "")
    assert not browser.find_elements("css selector", "#space-note")  # named: no note
    assert Select(css(browser, "#space-switch select")).first_selected_option.text == "alt"
    names = sorted(p.get_attribute("data-name") for p in browser.find_elements("css selector", "g.pt"))
    assert names == ["bbc", "newsgroups", "sst2"]  # the map is alt's
    assert {r.get_attribute("data-name") for r in rows(browser, "rank-sources")} <= {"bbc", "newsgroups"}
    shot(browser, "13-space-switched")
