"""Every JSON response of the HTTP service has a typed schema in ``/openapi.json`` (issue 18), so a
client can generate types for the answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fute.http import create_app
from registry.api import Registry
from registry.settings import Settings


def _typed(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a response schema names its fields: a ``$ref`` to a schema with properties, an
    object with properties, or an array of such items."""
    if "$ref" in schema:
        target = components[schema["$ref"].rsplit("/", 1)[-1]]
        return bool(target.get("properties"))
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}), components)
    return bool(schema.get("properties"))


def untyped_responses(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """``(method, path)`` of every 2xx JSON response without a typed schema."""
    components = spec.get("components", {}).get("schemas", {})
    missing = set()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            for status, response in op.get("responses", {}).items():
                json_body = response.get("content", {}).get("application/json")
                if json_body is None or not status.startswith("2"):
                    continue
                if not _typed(json_body.get("schema", {}), components):
                    missing.add((method, path))
    return missing


def test_every_json_response_has_a_typed_schema(tmp_path: Path) -> None:
    settings = Settings.build(home=tmp_path)
    Registry(settings).init()
    spec = TestClient(create_app(settings, token="t")).get("/openapi.json").json()
    missing = untyped_responses(spec)
    assert not missing, f"JSON responses without a typed schema: {sorted(missing)}"
    assert spec["paths"]["/query/sources"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/QueryAnswer"}
