"""HTML of the map, evaluation and jobs pages (layout and escaping from ``fute.web_pages``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fute.map_render import nice_step, nice_ticks, tick_label
from fute.web_pages import esc, layout, table
from query.taskmap import METHODS

JOBS_REFRESH_S = 3
BAR_W, BAR_H, BAR_PAD = 760, 300, 48


def _options(choices: Sequence[str], chosen: str) -> str:
    return "".join(
        f'<option value="{esc(c)}"{" selected" if c == chosen else ""}>{esc(c)}</option>' for c in choices
    )


@dataclass(frozen=True)
class MapView:
    """What the map page shows besides the drawing.

    Attributes:
        spaces: Every space name holding vectors (the space switcher).
        space: The space drawn.
        colours: ``kind`` and ``tag:KEY`` choices.
        color_by: The colouring drawn.
        method: The projection drawn.
        n: Number of points.
        note: The space rule's one-line note when the page did not name the space.
    """

    spaces: list[str]
    space: str
    colours: list[str]
    color_by: str
    method: str
    n: int
    note: str | None = None


def map_page(svg: str, view: MapView) -> str:
    """The interactive map of a space: choose space, colouring and projection (GET form).

    Args:
        svg: ``map_render.map_svg`` with a link per point.
        view: The space, colouring, projection and choices.

    Returns:
        The page's HTML.
    """
    form = (
        '<form method="get" action="/ui/map" class="filters">'
        f'space <select name="space" id="space-select">{_options(view.spaces, view.space)}</select> '
        f'colour <select name="color">{_options(view.colours, view.color_by)}</select> '
        f'projection <select name="method">{_options(METHODS, view.method)}</select> '
        '<button type="submit">draw</button></form>'
    )
    note = f'<p class="summary">{view.n} subjects; hover a point for its name, click it for its page.</p>'
    if view.note:
        note += f'<p class="note" id="space-note">{esc(view.note)}</p>'
    return layout(f"Map of {view.space}", form + note + f'<div class="map">{svg}</div>')


def bar_chart(
    labels: Sequence[str], series: dict[str, Sequence[float]], ref: tuple[str, float] | None = None
) -> str:
    """Grouped bars as inline SVG (values in [0, max]; NaN bars are left out).

    Args:
        labels: One group per label (e.g. targets, then ``mean``).
        series: Series name -> one value per label.
        ref: (label, value) of a dashed horizontal reference line (the random baseline).

    Returns:
        An ``<svg class="bars">`` element with a legend.
    """
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c")
    values = [v for vs in series.values() for v in vs if not math.isnan(v)] + ([ref[1]] if ref else [])
    top, ticks = y_scale(max([*values, 1e-9]))
    group_w = (BAR_W - 2 * BAR_PAD) / max(len(labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)

    def y(v: float) -> float:
        return BAR_H - BAR_PAD - v / top * (BAR_H - 2 * BAR_PAD)

    parts = [
        y_axis_svg(ticks, y),
        f'<line x1="{BAR_PAD}" y1="{y(0):.1f}" x2="{BAR_W - BAR_PAD}" y2="{y(0):.1f}" stroke="#333"/>',
    ]
    for i, label in enumerate(labels):
        x0 = BAR_PAD + i * group_w + group_w * 0.1
        for j, (name, vals) in enumerate(series.items()):
            v = vals[i]
            if not math.isnan(v):
                parts.append(
                    f'<rect class="bar" x="{x0 + j * bar_w:.1f}" y="{y(v):.1f}" width="{bar_w - 2:.1f}" '
                    f'height="{y(0) - y(v):.1f}" fill="{colours[j % 3]}"><title>{esc(label)} {esc(name)}: {v:.3f}</title></rect>'
                )
        parts.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{BAR_H - BAR_PAD + 14}" font-size="11" text-anchor="middle">{esc(label)}</text>'
        )
    legend = [f'<rect x="{BAR_PAD + 130 * j}" y="6" width="12" height="12" fill="{colours[j % 3]}"/><text x="{BAR_PAD + 130 * j + 16}" y="16" font-size="12">{esc(name)}</text>' for j, name in enumerate(series)]  # fmt: skip
    if ref:
        parts.append(
            f'<line x1="{BAR_PAD}" y1="{y(ref[1]):.1f}" x2="{BAR_W - BAR_PAD}" y2="{y(ref[1]):.1f}" stroke="#d62728" stroke-dasharray="6,4"/>'
        )
        legend.append(
            f'<text x="{BAR_PAD + 130 * len(series)}" y="16" font-size="12" fill="#d62728">- - {esc(ref[0])} ({ref[1]:.3f})</text>'
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" viewBox="0 0 {BAR_W} {BAR_H}" width="{BAR_W}" height="{BAR_H}">{"".join(parts + legend)}</svg>'


def y_scale(high: float) -> tuple[float, list[float]]:
    """The bars' value axis: round ticks from 0 up to the first tick at or above ``high``.

    Args:
        high: The largest value drawn (positive).

    Returns:
        (top of the axis, tick values from 0 to top).
    """
    step = nice_step(high)
    ticks = nice_ticks(0.0, math.ceil(high / step - 1e-9) * step)
    return ticks[-1], ticks


def y_axis_svg(ticks: list[float], y: Callable[[float], float]) -> str:
    """A vertical axis on the left of the bars: a tick, a value and a light grid line per tick.

    Args:
        ticks: Tick values (``y_scale``).
        y: Value -> SVG y.

    Returns:
        A ``<g class="yaxis">`` element (``text.tick`` per tick).
    """
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    parts = [f'<line x1="{BAR_PAD}" y1="{y(ticks[-1]):.1f}" x2="{BAR_PAD}" y2="{y(0):.1f}" stroke="#333"/>']
    for v in ticks:
        parts.append(
            f'<line x1="{BAR_PAD}" y1="{y(v):.1f}" x2="{BAR_W - BAR_PAD}" y2="{y(v):.1f}" stroke="#eee"/>'
            f'<line x1="{BAR_PAD - 4}" y1="{y(v):.1f}" x2="{BAR_PAD}" y2="{y(v):.1f}" stroke="#333"/>'
            f'<text class="tick" x="{BAR_PAD - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{tick_label(v, step)}</text>"
        )
    return '<g class="yaxis">' + "".join(parts) + "</g>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return esc(v)


def eval_page(report: Mapping[str, Any] | None, message: str, spaces: list[str], space: str | None) -> str:
    """NDCG / Regret@k per target and mean beside the random baseline: a table and bar charts.

    Args:
        report: ``query.service.evaluate``'s answer, or None when it could not run.
        message: Why there is no report (e.g. no transfer results imported).
        spaces: Every space name (for the space choice).
        space: The space evaluated.
    """
    form = (
        '<form method="get" action="/ui/eval" class="filters">'
        f'space <select name="space">{_options(spaces, space or "")}</select> <button type="submit">evaluate</button></form>'
    )
    if report is None:
        return layout("Evaluation", form + f'<p class="note" id="eval-note">{esc(message)}</p>')
    metrics = [
        k for k in report["mean"] if k == "ndcg" or (k.startswith("regret_at_") and k.endswith("_rel"))
    ]
    targets = list(report["targets"])
    rows = [[esc(t)] + [_fmt(report["targets"][t].get(m)) for m in metrics] for t in targets]
    rows.append(["<b>mean</b>"] + [f"<b>{_fmt(report['mean'].get(m))}</b>" for m in metrics])
    rows.append(["random baseline"] + [_fmt(report["random"].get(m)) for m in metrics])
    attrs = [f'data-target="{esc(t)}"' for t in targets] + ['data-target="mean"', 'data-target="random"']
    head = f'<p class="summary">space <code>{esc(report["space"])}</code> ({esc(report["method"])}), setting {esc(report["setting"])}, {report["n_targets"]} targets, random = mean of {report["random_draws"]} shuffles</p>'
    ndcg = [float(report["targets"][t]["ndcg"]) for t in targets] + [float(report["mean"]["ndcg"])]
    chart1 = bar_chart([*targets, "mean"], {"NDCG": ndcg}, ("random NDCG", float(report["random"]["ndcg"])))
    chart2 = bar_chart(
        metrics,
        {
            "embedding": [float(report["mean"][m]) for m in metrics],
            "random": [float(report["random"][m]) for m in metrics],
        },
    )
    body = form + head + table(["target", *metrics], rows, "eval", attrs)
    body += "<h2>NDCG per target (higher is better)</h2>" + chart1
    body += "<h2>mean vs random (NDCG higher is better, regret lower is better)</h2>" + chart2
    return layout("Evaluation", body)


def _job_row(job: dict[str, Any]) -> list[str]:
    total = max(int(job["n_total"] or 0), 1)
    done = int(job["n_done"] or 0) + int(job["n_failed"] or 0)
    bar = f'<progress max="{total}" value="{min(done, total)}"></progress> {done}/{job["n_total"]}'
    return [esc(job["id"]), esc(job["kind"]), f'<span class="st-{esc(job["status"])}">{esc(job["status"])}</span>',
            bar, esc(job["n_failed"]), esc(job["started_at"]), esc(job["updated_at"] or job["finished_at"]), esc(job["error"] or "")]  # fmt: skip


def jobs_page(jobs: dict[str, Any]) -> str:
    """Running and recent jobs with progress; entries of the newest ones; reloads every few seconds.

    Args:
        jobs: ``web_data.recent_jobs``.
    """
    items = jobs["items"]
    if not items:
        return layout("Jobs", '<p class="note">no jobs yet.</p>', refresh_s=JOBS_REFRESH_S)
    head = ["id", "kind", "status", "progress", "failed", "started", "updated", "error"]
    attrs = [f'data-job="{esc(j["id"])}" data-status="{esc(j["status"])}"' for j in items]
    parts = [
        f'<p class="summary">{jobs["total"]} jobs; the newest {len(items)} shown; this page refreshes every {JOBS_REFRESH_S} s.</p>',
        table(head, [_job_row(j) for j in items], "jobs", attrs),
    ]
    for job in items:
        if "entries" not in job:
            continue
        rows = [[esc(e["key"]), f'<span class="st-{esc(e["status"])}">{esc(e["status"])}</span>',
                 "" if e["seconds"] is None else f'{e["seconds"]:.1f}', esc(e["error"] or "")] for e in job["entries"]]  # fmt: skip
        is_open = " open" if job["status"] == "running" else ""
        parts.append(
            f"<details{is_open}><summary>job {esc(job['id'])} entries ({len(rows)})</summary>"
            + table(["entry", "status", "seconds", "error"], rows, f"entries-{job['id']}")
            + "</details>"
        )
    return layout("Jobs", "".join(parts), refresh_s=JOBS_REFRESH_S)
