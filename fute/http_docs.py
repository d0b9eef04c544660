"""Offline API docs: ``/docs`` renders Swagger UI from the assets of the installed
``swagger-ui-bundle`` wheel (Apache-2.0, the licence ships in its dist-info), never from a CDN, so a
registry behind a firewall still shows its API.

FastAPI's own ``/docs`` page loads the assets from jsDelivr and starts Swagger UI with an inline
script; this page loads ``/docs/static/`` files and ``/docs/init.js`` from this server only, under a
Content-Security-Policy that allows nothing else (inline styles excepted: Swagger UI sets some).

The wheel's Swagger UI (4.x) reads OpenAPI 3.0 only, and FastAPI writes 3.1, so the page reads
``/docs/openapi.json``: the same document restated in 3.0 terms (``openapi_30``). ``/openapi.json``
itself is unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'"
)
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{title} - API docs</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
NULL = {"type": "null"}
INIT = """window.ui = SwaggerUIBundle({
  url: "/docs/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


def openapi_30(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's OpenAPI 3.1 document restated as 3.0 for Swagger UI 4.

    Args:
        schema: ``app.openapi()`` (not modified).

    Returns:
        A copy with ``openapi: 3.0.3``, ``anyOf [X, null]`` as ``nullable``, ``const`` as a one-value
        ``enum`` and list ``examples`` of a schema as its first ``example``.
    """
    out = _to_30(schema)
    out["openapi"] = "3.0.3"
    return cast(dict[str, Any], out)


def _to_30(node: Any) -> Any:
    """One node of the document, its children first (see ``openapi_30``)."""
    if isinstance(node, list):
        return [_to_30(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _to_30(v) for k, v in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and NULL in options:
        rest = [o for o in options if o != NULL]
        del node["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node = {**rest[0], **node}
        else:  # 3.0 ignores a $ref's siblings: wrap it
            node["allOf" if len(rest) == 1 else "anyOf"] = rest
        node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list) and "schema" not in node:
        examples = node.pop("examples")
        if examples:
            node.setdefault("example", examples[0])
    return node


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

    @app.get("/docs/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(openapi_30(app.openapi()))

    @app.get("/docs/init.js", include_in_schema=False)
    def init() -> Response:
        return Response(INIT, media_type="text/javascript", headers=headers)
