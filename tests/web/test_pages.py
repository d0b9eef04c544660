"""The catalogue pages through FastAPI's test client: every page renders, every registry string is
escaped, nothing can write, only the server's own assets are referenced."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from fute.http import create_app
from fute.web import CSP
from fute.web_pages import subject_url
from fute.web_report import bar_chart
from query import service as qs
from registry.api import Registry
from registry.subjects import get_subject
from tests.web.conftest import HOSTILE

ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


@pytest.fixture
def client(fake_reg: Registry) -> TestClient:
    return TestClient(create_app(fake_reg.settings, token=None))


def assert_safe(page: str) -> None:
    """No raw hostile string, no external reference, no inline script or style."""
    assert HOSTILE not in page and "<script>alert" not in page
    assert not re.search(r"(src|href|action)=\"(https?:)?//", page)
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"<script[^>]*>", page) == ['<script defer src="/ui/static/app.js">']
    forms = re.findall(r"<form[^>]*>", page)
    assert all('method="get"' in f for f in forms)


def test_list_page_filters_and_search(client: TestClient) -> None:
    res = client.get("/")
    assert res.status_code == 200 and res.headers["content-security-policy"] == CSP
    page = res.text
    assert_safe(page)
    assert ESCAPED in page and "6 datasets, 2 models, 1 prompts" in page
    assert f'href="{subject_url("dataset", HOSTILE).replace("&", "&amp;")}"' in page
    topic = client.get("/", params={"tag": "family=topic"}).text
    assert topic.count('<tr data-name="topic-') == 3 and "sent-a" not in topic
    assert 'data-name="topic-c"' in client.get("/", params={"format": "pair-classification"}).text
    assert "sent-b" not in client.get("/", params={"format": "pair-classification"}).text
    search = client.get("/", params={"q": "SENT"}).text
    assert 'data-name="sent-a"' in search and 'data-name="topic-a"' not in search
    models = client.get("/", params={"kind": "model"}).text
    assert 'id="list-model"' in models and 'id="list-dataset"' not in models
    assert "nothing matches" in client.get("/", params={"q": "zzz"}).text


def test_subject_page_equals_query_service(client: TestClient, fake_reg: Registry) -> None:
    page = client.get(subject_url("dataset", "sent-a")).text
    assert_safe(page)
    expected = qs.query_sources(fake_reg, "sent-a", qs.QueryOptions(k=5, spaces=("fake",)))["results"]
    table = page.split('id="rank-sources"')[1].split("</table>")[0]
    got = re.findall(r'<tr data-name="([^"]*)" data-score="([^"]*)"', table)
    assert [(n, float(s)) for n, s in got] == [(_esc(r["name"]), r["score"]) for r in expected]
    assert 'id="rank-models"' in page and 'id="rank-prompts"' in page and 'class="pt hi"' in page
    assert "provenance" in page and 'data-name="clf"' in page.split('id="rank-models"')[1]


def _esc(name: str) -> str:
    import html

    return html.escape(name, quote=True)


def test_hostile_subject_page_and_unknowns(client: TestClient) -> None:
    res = client.get(subject_url("dataset", HOSTILE))
    assert res.status_code == 200 and ESCAPED in res.text
    assert_safe(res.text)
    model = client.get(subject_url("model", "clf")).text
    assert 'id="rank-datasets"' in model  # a model's page ranks the datasets nearest to it
    prompt = client.get(subject_url("prompt", "p-sent")).text
    assert "template" in prompt and "llm" in prompt
    missing = client.get(subject_url("dataset", "<nope>"))
    assert missing.status_code == 404 and "&lt;nope&gt;" in missing.text and "<nope>" not in missing.text
    assert client.get(subject_url("model", "llm")).text.count("not embedded in any space") == 1
    assert client.get("/ui/subject/" + quote("wizard") + "/x").status_code == 404


def test_map_eval_jobs_pages(client: TestClient) -> None:
    page = client.get("/ui/map", params={"color": "tag:family"}).text
    assert_safe(page)
    assert page.count('class="pt') == 8 and 'href="/ui/subject/model/clf?space=fake"' in page
    assert client.get("/ui/map", params={"color": "bad"}).status_code == 400
    assert client.get("/ui/map", params={"space": "nope"}).status_code == 404
    note = client.get("/ui/eval").text
    assert "fute transfer import" in note
    jobs = client.get("/ui/jobs")
    assert jobs.status_code == 200 and 'http-equiv="refresh"' in jobs.text
    assert "&lt;b&gt;x&lt;/b&gt;" in jobs.text and "boom &lt;i&gt;" in jobs.text and "<progress" in jobs.text


def test_eval_page_with_transfer_results(client: TestClient, fake_reg: Registry) -> None:
    rows = [{"source": s, "target": t, "score": v} for t, s, v in (
        ("sent-a", "sent-b", 0.9), ("sent-a", "topic-a", 0.1), ("sent-a", "topic-b", 0.2),
        ("topic-a", "topic-b", 0.8), ("topic-a", "sent-b", 0.3), ("topic-a", "topic-c", 0.7))]  # fmt: skip
    qs.import_transfers(fake_reg, rows, "test")
    page = client.get("/ui/eval").text
    assert_safe(page)
    report = qs.evaluate(fake_reg, "fake", None)
    assert f"<b>{report['mean']['ndcg']:.3f}</b>" in page and 'data-target="random"' in page
    assert page.count('class="bar"') >= 3 + 2  # NDCG per target + mean; mean vs random


def test_read_only_and_static(client: TestClient) -> None:
    for path in ("/", "/ui/map", "/ui/jobs", subject_url("dataset", "sent-a")):
        assert client.post(path).status_code == 405 and client.delete(path).status_code == 405
    css = client.get("/ui/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "http" not in css.text and "fetch(" not in client.get("/ui/static/app.js").text
    assert client.get("/ui/static/..%2Fweb.py").status_code == 404
    assert client.get("/ui/static/web.py").status_code == 404
    assert "/ui/map" not in client.get("/openapi.json").text


def test_bars_have_a_y_scale() -> None:
    svg = bar_chart(["a", "b", "mean"], {"NDCG": [0.5, 0.73, 0.61]}, ("random NDCG", 0.3))
    axis = svg.split('<g class="yaxis">')[1].split("</g>")[0]
    ticks = re.findall(r'<text class="tick" x="[0-9.]+" y="([0-9.]+)"[^>]*>([0-9.]+)</text>', axis)
    values = [float(v) for _, v in ticks]
    assert values == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8]) and values[-1] >= 0.73
    tick_y = {float(v): float(y) - 4 for y, v in ticks}  # the text sits 4 px below its tick
    bars = re.findall(r'<rect class="bar" x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)"', svg)
    base = float(bars[0][0]) + float(bars[0][1])  # the bottom of every bar is the 0 tick
    assert base == pytest.approx(tick_y[0.0], abs=0.2)
    half = base - 0.5 / 0.8 * (base - tick_y[0.8])  # the 0.5 bar ends where the scale puts 0.5
    assert float(bars[0][0]) == pytest.approx(half, abs=0.2)


def test_subject_page_shows_provenance_as_a_table(client: TestClient, fake_reg: Registry) -> None:
    from registry.api import EmbeddingItem
    from tests.web.conftest import cluster_vector

    with fake_reg.db.read() as session:
        sid = get_subject(session, "sent-a", "dataset").id
    prov = {"method": "fake", "kind": "dte", "n_examples": 10, "params": {"max_examples": 16},
            "labels": ["neg", "pos"], "note": HOSTILE}  # fmt: skip
    fake_reg.put_embeddings("fake", [EmbeddingItem(sid, cluster_vector("sentiment", 0), prov)])
    page = client.get(subject_url("dataset", "sent-a")).text
    assert_safe(page)
    cell = page.split('<table class="prov" data-space="fake">')[1].split("</table>")[0]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td></tr>', cell)
    assert rows == [("kind", "dte"), ("labels", "neg, pos"), ("method", "fake"), ("n_examples", "10"),
                    ("note", ESCAPED + "&amp;&quot;&#x27;/.."), ("params.max_examples", "16")]  # fmt: skip
    section = page.split('id="provenance"')[1].split("<h2")[0]
    assert "{&quot;" not in section and "<code>" not in section  # no raw JSON left
    other = client.get(subject_url("dataset", "sent-b")).text  # stored without provenance
    assert "none recorded" in other.split('id="provenance"')[1]
