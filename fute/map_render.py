"""Drawing a task map (``query.taskmap.TaskMap``): PNG via matplotlib, SVG for HTML.

The same SVG serves the self-contained ``fute map --out map.html`` file and the web map page, so
both show the same picture: one marker per kind (dataset circle, model square, prompt triangle),
one colour per legend group, a label beside each point, and a ``<title>`` on each point (native
hover label; the page script adds a richer tooltip).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

from query.taskmap import MapPoint, TaskMap

# matplotlib's tab10 then tab20's light shades: distinct colours for up to 20 groups
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
]
MARKERS = {"dataset": "o", "model": "s", "prompt": "^"}  # matplotlib marker per kind
WIDTH, HEIGHT, MARGIN, LEGEND_W, LABEL_ROOM = 1000, 620, 40, 200, 110


def groups(tmap: TaskMap, color_by: str) -> dict[str, str]:
    """Legend groups in first-seen order, each with its colour (the palette repeats past 20)."""
    keys = list(dict.fromkeys(p.colour_key(color_by) for p in tmap.points))
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(sorted(keys))}


def title_of(tmap: TaskMap, color_by: str) -> str:
    """Plot title: space, method, colouring and the PCA axes' variance."""
    var = f", PC1 {tmap.explained[0]:.0%}" if tmap.explained else ""
    var += f" / PC2 {tmap.explained[1]:.0%}" if len(tmap.explained) > 1 else ""
    return f"space {tmap.space}: {tmap.method}{var}, colour = {color_by}"


def write_png(tmap: TaskMap, color_by: str, out: Path) -> None:
    """Draw the map with matplotlib (Agg backend: no display needed) into a PNG file.

    Args:
        tmap: The projected space.
        color_by: ``kind`` or ``tag:KEY``.
        out: PNG path (its folder must exist).
    """
    import matplotlib

    matplotlib.use("Agg")  # headless servers and CI have no display
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colours = groups(tmap, color_by)
    fig, ax = plt.subplots(figsize=(11, 7), dpi=110)
    for kind, marker in MARKERS.items():
        pts = [p for p in tmap.points if p.kind == kind]
        if pts:
            ax.scatter(
                [p.x for p in pts],
                [p.y for p in pts],
                c=[colours[p.colour_key(color_by)] for p in pts],
                marker=marker,
                s=90,
                edgecolors="black",
                linewidths=0.6,
                zorder=3,
            )
    for p in tmap.points:
        ax.annotate(p.name, (p.x, p.y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    handles = [Line2D([], [], marker="o", ls="", color=c, label=g) for g, c in colours.items()]
    handles += [
        Line2D([], [], marker=m, ls="", color="white", markeredgecolor="black", label=k)
        for k, m in MARKERS.items()
        if any(p.kind == k for p in tmap.points)
    ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_title(title_of(tmap, color_by), fontsize=10)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def _scaler(points: list[MapPoint]) -> Callable[[float, float], tuple[float, float]]:
    """Data coordinates -> SVG pixels inside the plot area (y grows upwards in the data)."""
    xs, ys = [p.x for p in points], [p.y for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    # room on the right for the longest labels, so they never run into the legend
    plot_w, plot_h = WIDTH - LEGEND_W - 2 * MARGIN - LABEL_ROOM, HEIGHT - 2 * MARGIN

    def scale(x: float, y: float) -> tuple[float, float]:
        return MARGIN + (x - x0) / span_x * plot_w, MARGIN + (y1 - y) / span_y * plot_h

    return scale


def marker_svg(kind: str, cx: float, cy: float, colour: str, r: float = 7.0) -> str:
    """One marker: circle (dataset), square (model), triangle (prompt); attributes, no inline CSS."""
    paint = f'fill="{colour}" stroke="#222" stroke-width="1"'
    if kind == "model":
        return f'<rect x="{cx - r:.1f}" y="{cy - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" {paint}/>'
    if kind == "prompt":
        pts = f"{cx:.1f},{cy - r * 1.2:.1f} {cx - r:.1f},{cy + r * 0.8:.1f} {cx + r:.1f},{cy + r * 0.8:.1f}"
        return f'<polygon points="{pts}" {paint}/>'
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" {paint}/>'


def _point_svg(
    p: MapPoint, xy: tuple[float, float], colour: str, group: str, href: str | None, hi: bool
) -> str:
    cx, cy = xy
    hover = escape(f"{p.name} ({p.kind}, {group})")
    ring = (
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="14" fill="none" stroke="#d00" stroke-width="3"/>'
        if hi
        else ""
    )
    body = (
        f'<g class="pt{" hi" if hi else ""}" data-name="{escape(p.name)}" data-kind="{escape(p.kind)}" '
        f'data-group="{escape(group)}"><title>{hover}</title>{ring}{marker_svg(p.kind, cx, cy, colour)}'
        f'<text x="{cx + 9:.1f}" y="{cy - 6:.1f}" font-size="11" fill="#222">{escape(p.name)}</text></g>'
    )
    return f'<a href="{escape(href)}">{body}</a>' if href else body


def _legend_svg(colours: dict[str, str], kinds: list[str]) -> str:
    x = WIDTH - LEGEND_W + 10
    rows = []
    for i, (group, colour) in enumerate(colours.items()):
        y = MARGIN + 18 * i
        rows.append(
            marker_svg("dataset", x, y, colour, 6)
            + f'<text x="{x + 12}" y="{y + 4}" font-size="12">{escape(group)}</text>'
        )
    base = MARGIN + 18 * len(colours) + 14
    for i, kind in enumerate(kinds):
        y = base + 18 * i
        rows.append(
            marker_svg(kind, x, y, "#fff", 6) + f'<text x="{x + 12}" y="{y + 4}" font-size="12">{kind}</text>'
        )
    return '<g class="legend">' + "".join(rows) + "</g>"


def map_svg(
    tmap: TaskMap,
    color_by: str,
    href: Callable[[MapPoint], str] | None = None,
    highlight: tuple[str, str] | None = None,
) -> str:
    """The map as one ``<svg>`` element (every string escaped).

    Args:
        tmap: The projected space.
        color_by: ``kind`` or ``tag:KEY``.
        href: Link of each point (the web subject page); None = no links.
        highlight: (kind, name) of a point drawn with a red ring (the subject page's own point).

    Returns:
        SVG markup, scalable (``viewBox``), with a legend of colours and markers.
    """
    colours = groups(tmap, color_by)
    scale = _scaler(tmap.points)
    parts = []
    for p in tmap.points:
        group = p.colour_key(color_by)
        hi = highlight == (p.kind, p.name)
        parts.append(_point_svg(p, scale(p.x, p.y), colours[group], group, href(p) if href else None, hi))
    kinds = [k for k in MARKERS if any(p.kind == k for p in tmap.points)]
    title = escape(title_of(tmap, color_by))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="taskmap" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{title}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
        f'<text x="{MARGIN}" y="22" font-size="14" font-weight="bold">{title}</text>'
        + "".join(parts)
        + _legend_svg(colours, kinds)
        + "</svg>"
    )


# The standalone file's tooltip script: inline, so the file works offline with no other asset.
_TOOLTIP_JS = """
const tip = document.getElementById('tip');
document.querySelectorAll('g.pt').forEach(function (g) {
  g.addEventListener('mousemove', function (ev) {
    tip.textContent = g.dataset.name + ' (' + g.dataset.kind + ', ' + g.dataset.group + ')';
    tip.style.left = (ev.pageX + 12) + 'px'; tip.style.top = (ev.pageY + 12) + 'px';
    tip.style.display = 'block';
  });
  g.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
});
"""
_CSS = (
    "body{font-family:sans-serif;margin:1em}svg.taskmap{max-width:100%;height:auto}"
    "g.pt:hover text{font-weight:bold}#tip{position:absolute;display:none;background:#ffd;"
    "border:1px solid #999;padding:2px 6px;font-size:12px;pointer-events:none}"
)


def write_html(tmap: TaskMap, color_by: str, out: Path) -> None:
    """A self-contained HTML file: inline SVG, CSS and tooltip script; nothing fetched.

    Args:
        tmap: The projected space.
        color_by: ``kind`` or ``tag:KEY``.
        out: HTML path.
    """
    title = escape(title_of(tmap, color_by))
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>{map_svg(tmap, color_by)}"
        f'<div id="tip"></div><script>{_TOOLTIP_JS}</script></body></html>'
    )
    out.write_text(page, encoding="utf-8")
