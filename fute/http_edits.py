"""``PATCH /subjects/{kind}/{name}``: the HTTP side of ``fute tag`` / ``fute tag --remove`` /
``fute rename``, through the same registry functions (``registry.edits``). Registered on the write
router, so it needs the bearer token like every other write.

Tags are removed and added in one transaction, then the rename runs in its own; a request that
fails on the rename (name taken) has already applied its tag edits, and re-sending it is safe.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from fute.http_routes import Reg
from query.listings import SubjectTags
from registry.edits import TagRemoval, edit_tags, get_tags, rename_subject


class SubjectEdit(BaseModel):
    """Body of ``PATCH /subjects/{kind}/{name}``: every field optional."""

    model_config = ConfigDict(extra="forbid")
    add_tags: dict[str, str | list[str]] = Field(default_factory=dict, description="tags to add")
    remove_tags: list[str] = Field(
        default_factory=list, description="KEY (every value) or KEY=VALUE (that value) to remove"
    )
    rename: str | None = Field(default=None, description="the subject's new name")


def removals(values: list[str]) -> list[TagRemoval]:
    """``KEY`` / ``KEY=VALUE`` strings to ``(key, value or None)``."""
    out: list[TagRemoval] = []
    for raw in values:
        key, sep, value = raw.partition("=")
        out.append((key, value if sep else None))
    return out


def add_edit_routes(router: APIRouter) -> None:
    """Register ``PATCH /subjects/{kind}/{name}`` on a (token-checked) router.

    Args:
        router: The write router.
    """

    @router.patch("/subjects/{kind}/{name}", response_model=SubjectTags)
    def edit_subject(
        reg: Reg, kind: Literal["dataset", "model", "prompt"], name: str, body: SubjectEdit
    ) -> dict[str, Any]:
        """Remove and add tags (one transaction), then rename; returns the subject's name, kind and
        tags afterwards (what ``fute tag`` / ``fute rename`` do)."""
        add = [(k, v) for k, vs in body.add_tags.items() for v in ([vs] if isinstance(vs, str) else vs)]
        remove = removals(body.remove_tags)
        tags = edit_tags(reg.db, kind, name, add=add, remove=remove) if add or remove else None
        if body.rename is not None:
            rename_subject(reg.db, kind, name, body.rename)
            name = body.rename
        return {
            "name": name,
            "kind": kind,
            "tags": tags if tags is not None else get_tags(reg.db, kind, name),
        }
