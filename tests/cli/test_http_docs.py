"""Offline API docs (issue 20, item 2): /docs loads Swagger UI from this server only."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from fute.http import create_app
from fute.http_docs import NULL, openapi_30
from registry.api import Registry
from registry.settings import Settings


def test_docs_page_and_assets_come_from_this_server(tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path / "home"))
    reg.init()
    reg.close()
    with TestClient(create_app(Settings.build(home=tmp_path / "home"), None)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        urls = [u for u in re.findall(r'(?:src|href)="([^"]+)"', page.text) if u != "data:,"]
        assert urls and all(u.startswith("/docs/") for u in urls), urls  # no CDN
        assert "connect-src 'self'" in page.headers["content-security-policy"]
        for url in [*urls, "/docs/init.js"]:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 50, url
        assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text
        assert '"/docs/openapi.json"' in client.get("/docs/init.js").text
        assert client.get("/openapi.json").json()["info"]["title"] == "FUTE Registry"
        assert client.get("/docs/static/../../http.py").status_code == 404


def test_docs_read_an_openapi_30_document(tmp_path: Path) -> None:
    """Swagger UI 4 (the wheel's) refuses 3.1 ("does not specify a valid version field")."""
    reg = Registry(Settings.build(home=tmp_path / "home"))
    reg.init()
    reg.close()
    with TestClient(create_app(Settings.build(home=tmp_path / "home"), None)) as client:
        full = client.get("/openapi.json").json()
        docs = client.get("/docs/openapi.json").json()
    assert full["openapi"].startswith("3.1") and docs["openapi"] == "3.0.3"
    assert docs["paths"].keys() == full["paths"].keys() and docs["info"] == full["info"]
    text = json.dumps(docs)
    assert '{"type": "null"}' in json.dumps(full) and '{"type": "null"}' not in text
    assert '"nullable": true' in text and '"const"' not in text


def test_openapi_30_rewrites() -> None:
    ref = {"$ref": "#/components/schemas/X"}
    schema = {"openapi": "3.1.0", "a": {"anyOf": [{"type": "string"}, NULL], "title": "A"},
              "b": {"anyOf": [ref, NULL]}, "c": {"anyOf": [{"type": "integer"}, {"type": "string"}, NULL]},
              "d": {"const": "x", "examples": [1, 2]}}  # fmt: skip
    out = openapi_30(schema)
    assert out["a"] == {"type": "string", "title": "A", "nullable": True}
    assert out["b"] == {"allOf": [ref], "nullable": True}
    assert out["c"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "nullable": True}
    assert out["d"] == {"enum": ["x"], "example": 1} and schema["openapi"] == "3.1.0"
