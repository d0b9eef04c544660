"""HTML of the catalogue pages: the layout, the list page and the subject page.

Every string from the registry goes through ``esc`` (names are user input: a dataset may be called
``<script>``); links are built by ``subject_url`` (percent-encoded). Pages carry no inline script
or style: the app's CSS and JS are files served from the package (``/ui/static/``), and the
server's Content-Security-Policy forbids anything else, so nothing is fetched from outside.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from fute.web_data import KINDS, ListFilter, provenance_rows

NAV = (("/", "catalogue"), ("/ui/map", "map"), ("/ui/eval", "evaluation"), ("/ui/jobs", "jobs"))


def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute (None -> empty)."""
    return "" if value is None else escape(str(value), quote=True)


def subject_url(kind: str, name: str, space: str | None = None) -> str:
    """Path of a subject page (the name percent-encoded, slashes included)."""
    url = f"/ui/subject/{quote(kind, safe='')}/{quote(name, safe='')}"
    return url + (f"?{urlencode({'space': space})}" if space else "")


def layout(title: str, body: str, refresh_s: int | None = None) -> str:
    """A whole page: head (own CSS and JS only), navigation, body.

    Args:
        title: Page title (escaped here).
        body: Already escaped HTML.
        refresh_s: Reload the page every N seconds (the jobs page).
    """
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s else ""
    nav = "".join(f'<a href="{href}">{label}</a>' for href, label in NAV)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">{refresh}'
        f"<title>{esc(title)} - FUTE Registry</title>"
        '<link rel="stylesheet" href="/ui/static/app.css"><script defer src="/ui/static/app.js"></script>'
        f'</head><body><nav><b>FUTE Registry</b>{nav}<span class="ro">read-only</span></nav>'
        f'<main><h1>{esc(title)}</h1>{body}</main><div id="tip"></div></body></html>'
    )


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], table_id: str = "", row_attrs: Sequence[str] = ()
) -> str:
    """An HTML table; cells must already be escaped HTML, headers are escaped here.

    Args:
        headers: Column titles.
        rows: Cells per row (HTML).
        table_id: ``id`` of the table (tests and links find it).
        row_attrs: Extra attributes per row (already escaped), e.g. ``data-name="..."``.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, cells in enumerate(rows):
        attrs = f" {row_attrs[i]}" if i < len(row_attrs) else ""
        body.append(f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def tags_html(tags: dict[str, list[str]]) -> str:
    """Tags as small labels ``key=value``."""
    return " ".join(
        f'<span class="tag">{esc(k)}={esc(v)}</span>' for k, vs in sorted(tags.items()) for v in vs
    )


def _select(name: str, choices: Sequence[str], chosen: str | None, blank: str) -> str:
    opts = [f'<option value="">{esc(blank)}</option>']
    opts += [
        f'<option value="{esc(c)}"{" selected" if c == chosen else ""}>{esc(c)}</option>' for c in choices
    ]
    return f'<select name="{esc(name)}">{"".join(opts)}</select>'


def list_page(
    rows: list[dict[str, Any]], flt: ListFilter, facets: dict[str, list[str]], counts: dict[str, int]
) -> str:
    """The catalogue list: filter form (GET only), per-kind counts, one table per kind.

    Args:
        rows: ``web_data.list_subjects`` rows that passed the filter.
        flt: The active filter (shown in the form).
        facets: Formats and tag pairs to choose from.
        counts: Subjects per kind in the whole catalogue.
    """
    tag = "=".join(flt.tags[0]) if flt.tags else None
    form = (
        '<form method="get" action="/" class="filters">'
        f'<input type="search" name="q" placeholder="search names and tags" value="{esc(flt.q)}">'
        + _select("kind", KINDS, flt.kind, "any kind")
        + _select("format", facets["formats"], flt.fmt, "any format")
        + _select("tag", facets["tags"], tag, "any tag")
        + '<button type="submit">filter</button> <a href="/">clear</a></form>'
    )
    summary = ", ".join(f"{counts.get(k, 0)} {k}s" for k in KINDS)
    parts = [form, f'<p class="summary">{esc(summary)}; {len(rows)} shown</p>']
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        cells = [
            [f'<a href="{esc(subject_url(kind, r["name"]))}">{esc(r["name"])}</a>', esc(r["format"] or ""),
             tags_html(r["tags"]), esc(r["detail"]), esc(", ".join(r["spaces"]))]
            for r in mine
        ]  # fmt: skip
        attrs = [f'data-name="{esc(r["name"])}"' for r in mine]
        parts.append(f"<h2>{kind}s ({len(mine)})</h2>")
        parts.append(table(["name", "format", "tags", "details", "spaces"], cells, f"list-{kind}", attrs))
    if not rows:
        parts.append("<p>nothing matches these filters.</p>")
    return layout("Catalogue", "".join(parts))


def ranking_html(key: str, answer: dict[str, Any]) -> str:
    """One ranking (a ``query_*`` answer) as a table ``#rank-<key>``; rows carry name and score."""
    if "error" in answer:
        return f'<p class="note" id="rank-{esc(key)}">{esc(answer["error"])}</p>'
    results = answer["results"]
    if not results:
        return f'<p class="note" id="rank-{esc(key)}">no {esc(key)} in this space.</p>'
    cells = [
        [esc(r["rank"]), f'<a href="{esc(subject_url(r["kind"], r["name"], answer["space"]))}">{esc(r["name"])}</a>',
         esc(r["kind"]), f'{r["score"]:.4f}', tags_html(r["tags"])]
        for r in results
    ]  # fmt: skip
    attrs = [f'data-name="{esc(r["name"])}" data-score="{esc(r["score"])}"' for r in results]
    return table(["rank", "name", "kind", "score", "tags"], cells, f"rank-{key}", attrs)


def _meta_rows(info: dict[str, Any]) -> str:
    skip = {"embeddings", "tags", "name", "kind"}
    rows = [[esc(k), f"<code>{esc(_show(v))}</code>"] for k, v in info.items() if k not in skip]
    rows.append(["tags", tags_html(info["tags"]) or "none"])
    return table(["field", "value"], rows, "meta")


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def provenance_table(space: str, prov: dict[str, Any]) -> str:
    """One embedding's provenance as a two-column table (field, value), every string escaped.

    Args:
        space: The embedding's space (the table's ``data-space``).
        prov: The stored provenance.

    Returns:
        A ``<table class="prov">``, or a note when nothing was recorded.
    """
    rows = provenance_rows(prov)
    if not rows:
        return '<span class="note">none recorded</span>'
    body = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in rows)
    return f'<table class="prov" data-space="{esc(space)}"><tbody>{body}</tbody></table>'


def subject_page(
    info: dict[str, Any],
    space: str | None,
    rankings: dict[str, dict[str, Any]],
    map_svg: str,
    note: str | None = None,
) -> str:
    """One subject: metadata, embedding provenance per space, its rankings, its place on the map.

    Args:
        info: ``web_data.subject_info``.
        space: The space the rankings and the map use (None: the subject has no embedding).
        rankings: ``web_data.subject_queries`` (empty without a space).
        map_svg: The space's map with this subject ringed ("" without a space).
        note: The space rule's one-line note when the page did not name the space.

    Returns:
        The page's HTML.
    """
    parts = [f'<p class="kind">{esc(info["kind"])}</p>', "<h2>metadata</h2>", _meta_rows(info)]
    prov = [
        [f'<a href="{esc(subject_url(info["kind"], info["name"], e["space"]))}">{esc(e["space"])}</a>',
         esc(e["method"]), esc(e["created_at"]), provenance_table(e["space"], e["provenance"])]
        for e in info["embeddings"]
    ]  # fmt: skip
    parts += [
        "<h2>embeddings (provenance per space)</h2>",
        table(["space", "method", "created", "provenance"], prov, "provenance"),
    ]
    if space is None:
        parts.append('<p class="note">not embedded in any space yet: run `fute embed`.</p>')
        return layout(f"{info['kind']} {info['name']}", "".join(parts))
    titles = {
        "sources": "top transfer sources",
        "models": "best models",
        "prompts": "best prompts",
        "datasets": "nearest datasets",
    }
    parts.append(
        f'<h2 id="space-title">rankings in space <code>{esc(space)}</code> (as <code>fute query ... --json</code>)</h2>'
    )
    parts.append(space_switcher(info, space, [e["space"] for e in info["embeddings"]], note))
    for key, answer in rankings.items():
        parts += [f"<h3>{esc(titles.get(key, key))}</h3>", ranking_html(key, answer)]
    parts += ["<h2>on the map</h2>", f'<div class="map">{map_svg}</div>']
    return layout(f"{info['kind']} {info['name']}", "".join(parts))


def space_switcher(info: dict[str, Any], space: str, spaces: list[str], note: str | None) -> str:
    """A GET form that reloads the subject page in another of its spaces, with the rule's note.

    Args:
        info: ``web_data.subject_info``.
        space: The space shown.
        spaces: The spaces holding the subject's vector.
        note: The space rule's note (None when ``space=`` chose it).

    Returns:
        The form's HTML (``#space-switch``).
    """
    options = "".join(
        f'<option value="{esc(s)}"{" selected" if s == space else ""}>{esc(s)}</option>' for s in spaces
    )
    form = (
        f'<form method="get" action="{esc(subject_url(info["kind"], info["name"]))}" class="filters" '
        f'id="space-switch">space <select name="space" id="space-select">{options}</select> '
        '<button type="submit">show</button></form>'
    )
    return form + (f'<p class="note" id="space-note">{esc(note)}</p>' if note else "")


def error_page(status: int, message: str) -> str:
    """An error as a page (the message names the problem and the fix)."""
    return layout(
        f"Error {status}", f'<p class="error">{esc(message)}</p><p><a href="/">back to the catalogue</a></p>'
    )
