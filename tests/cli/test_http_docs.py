"""Offline API docs (issue 20, item 2): /docs loads Swagger UI from this server only."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from fute.http import create_app
from registry.api import Registry
from registry.settings import Settings


def test_docs_page_and_assets_come_from_this_server(tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path / "home"))
    reg.init()
    reg.close()
    with TestClient(create_app(Settings.build(home=tmp_path / "home"), None)) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert urls and all(u.startswith("/docs/") for u in urls), urls  # no CDN
        assert "connect-src 'self'" in page.headers["content-security-policy"]
        for url in [*urls, "/docs/init.js"]:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 50, url
        assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text
        assert '"/openapi.json"' in client.get("/docs/init.js").text
        assert client.get("/openapi.json").json()["info"]["title"] == "FUTE Registry"
        assert client.get("/docs/static/../../http.py").status_code == 404
