"""Offline API docs: ``/docs`` renders Swagger UI from the assets of the installed
``swagger-ui-bundle`` wheel (Apache-2.0, the licence ships in its dist-info), never from a CDN, so a
registry behind a firewall still shows its API.

FastAPI's own ``/docs`` page loads the assets from jsDelivr and starts Swagger UI with an inline
script; this page loads ``/docs/static/`` files and ``/docs/init.js`` from this server only, under a
Content-Security-Policy that allows nothing else (inline styles excepted: Swagger UI sets some).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'"
)
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - API docs</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


def assets_dir() -> Path:
    """The folder of Swagger UI's files in the installed ``swagger-ui-bundle`` package."""
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI over ``/openapi.json``) from local assets.

    Args:
        app: An app created with ``docs_url=None`` (so FastAPI's CDN page is not registered).
    """
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
    app.mount("/docs/static", StaticFiles(directory=assets_dir()), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=app.title), headers=headers)

    @app.get("/docs/init.js", include_in_schema=False)
    def init() -> Response:
        return Response(INIT, media_type="text/javascript", headers=headers)
