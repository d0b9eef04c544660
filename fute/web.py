"""The catalogue web pages of ``fute serve``: ``/`` (list), ``/ui/subject/{kind}/{name}``,
``/ui/map``, ``/ui/eval``, ``/ui/jobs`` and the app's own CSS/JS under ``/ui/static/``.

Read-only by construction: every route is a GET and no page has a form that writes (filters are
GET forms). Every HTML answer carries a Content-Security-Policy that allows only this server's own
files, so the pages work offline and an injected name could not load or run anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from fute import web_data as wd
from fute import web_pages as pages
from fute import web_report as report
from fute.http_routes import Reg
from fute.map_render import map_svg
from query import service as qs
from query.taskmap import MapPoint, build_map, check_color, map_space
from registry.api import Registry
from registry.errors import NotFoundError, RegistryError
from registry.subject_listing import tag_keys

STATIC = Path(__file__).with_name("web_static")
STATIC_FILES = {"app.css": "text/css", "app.js": "text/javascript"}
Text = Annotated[str, Query(max_length=300)]  # a free-text query parameter of a page
CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'"


def html(body: str, status: int = 200) -> HTMLResponse:
    """An HTML answer with the pages' security headers."""
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(body, status_code=status, headers=headers)


def guarded(render: Callable[[], str]) -> HTMLResponse:
    """Render a page; a registry error becomes an error page (404 for unknown names, else 400)."""
    try:
        return html(render())
    except RegistryError as exc:
        status = 404 if isinstance(exc, NotFoundError) else 400
        return html(pages.error_page(status, str(exc)), status)


def _space_names(reg: Registry) -> list[str]:
    return [s.name for s, n in reg.spaces() if n > 0]


def _colour_choices(reg: Registry) -> list[str]:
    return ["kind", *(f"tag:{k}" for k in tag_keys(reg))]


def _point_href(space: str) -> Callable[[MapPoint], str]:
    return lambda p: pages.subject_url(p.kind, p.name, space)


def _list(reg: Registry, flt: wd.ListFilter) -> str:
    every = wd.list_subjects(reg, wd.ListFilter())
    facets = wd.facets(every)
    counts = {k: sum(r["kind"] == k for r in every) for k in wd.KINDS}
    return pages.list_page([r for r in every if flt.keep(r)], flt, facets, counts)


def _subject(reg: Registry, kind: str, name: str, wanted: str | None) -> str:
    info = wd.subject_info(reg, kind, name)
    choice = wd.pick_space(reg, [e["space"] for e in info["embeddings"]], wanted)
    if choice is None:
        return pages.subject_page(info, None, {}, "")
    space = choice.name
    rankings = wd.subject_queries(reg, kind, info["name"], space)
    tmap = build_map(reg, space)
    svg = map_svg(tmap, "kind", _point_href(space), highlight=(kind, info["name"]))
    return pages.subject_page(info, space, rankings, svg, choice.note)


def _map(reg: Registry, space: str | None, color_by: str, method: str) -> str:
    spaces = _space_names(reg)
    if not spaces:
        return pages.layout(
            "Map", '<p class="note">no embeddings yet: run `fute quickstart` or `fute embed`.</p>'
        )
    choice = map_space(reg, space)
    chosen = choice.name
    check_color(color_by)
    tmap = build_map(reg, chosen, method=method)
    svg = map_svg(tmap, color_by, _point_href(chosen))
    page = report.MapView(
        spaces, chosen, _colour_choices(reg), color_by, method, len(tmap.points), choice.note
    )
    return report.map_page(svg, page)


def _eval(reg: Registry, space: str | None) -> str:
    spaces = _space_names(reg)
    chosen = map_space(reg, space).name if spaces else None
    try:
        out = qs.evaluate(reg, chosen, None)
    except RegistryError as exc:  # e.g. no transfer results imported yet: say how to get some
        return report.eval_page(None, str(exc), spaces, chosen)
    return report.eval_page(out, "", spaces, chosen)


def web_router() -> APIRouter:
    """The catalogue pages (GET only, left out of the OpenAPI schema).

    Returns:
        A router to include in the app.
    """
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def catalogue(reg: Reg, q: Text = "", kind: Text = "", format: Text = "", tag: Text = "") -> Response:
        key, sep, value = tag.partition("=")
        flt = wd.ListFilter(kind or None, format or None, ((key, value),) if sep else (), q)
        return guarded(lambda: _list(reg, flt))

    @router.get("/ui/subject/{kind}/{name:path}", response_class=HTMLResponse)
    def subject(reg: Reg, kind: str, name: str, space: str | None = None) -> Response:
        return guarded(lambda: _subject(reg, kind, name, space))

    @router.get("/ui/map", response_class=HTMLResponse)
    def task_map(reg: Reg, space: str | None = None, color: Text = "kind", method: Text = "pca") -> Response:
        return guarded(lambda: _map(reg, space or None, color, method))

    @router.get("/ui/eval", response_class=HTMLResponse)
    def evaluation(reg: Reg, space: str | None = None) -> Response:
        return guarded(lambda: _eval(reg, space or None))

    @router.get("/ui/jobs", response_class=HTMLResponse)
    def jobs(reg: Reg) -> Response:
        return guarded(lambda: report.jobs_page(wd.recent_jobs(reg)))

    @router.get("/ui/static/{file}")
    def static(file: str) -> Response:
        if file not in STATIC_FILES:  # a fixed list: no path ever reaches the file system from a URL
            return html(pages.error_page(404, f"no static file {file!r}"), 404)
        return FileResponse(
            STATIC / file, media_type=STATIC_FILES[file], headers={"Cache-Control": "no-cache"}
        )

    return router
