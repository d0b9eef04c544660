"""Drawing a task map (``query.taskmap.TaskMap``): PNG via matplotlib, SVG for HTML.

The same SVG serves the self-contained ``fute map --out map.html`` file and the web map page, so
both show the same picture: one marker per kind (dataset circle, model square, prompt triangle),
one colour per legend group, a label beside each point, and a ``<title>`` on each point (native
hover label; the page script adds a richer tooltip).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from query.taskmap import MapPoint, TaskMap

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation
    from matplotlib.transforms import Bbox

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
WIDTH, HEIGHT, LEGEND_W, LABEL_ROOM = 1000, 640, 200, 110
# the SVG plot area's margins: tick values and axis titles on the left and below, the title above
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM, TITLE_Y = 70, 60, 60, 24
MAX_REPEL = 400  # more labels than this are placed at fixed offsets (repelling is quadratic)
LEADER = {"arrowstyle": "-", "color": "#888888", "lw": 0.5}  # line from a moved label to its point


def groups(tmap: TaskMap, color_by: str) -> dict[str, str]:
    """Legend groups in first-seen order, each with its colour (the palette repeats past 20)."""
    keys = list(dict.fromkeys(p.colour_key(color_by) for p in tmap.points))
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(sorted(keys))}


def title_of(tmap: TaskMap, color_by: str) -> str:
    """Plot title: space, method, colouring and the PCA axes' variance."""
    var = f", PC1 {tmap.explained[0]:.0%}" if tmap.explained else ""
    var += f" / PC2 {tmap.explained[1]:.0%}" if len(tmap.explained) > 1 else ""
    return f"space {tmap.space}: {tmap.method}{var}, colour = {color_by}"


def legend_entries(tmap: TaskMap, color_by: str) -> list[tuple[str, str, str]]:
    """The legend's rows, each label once: (label, colour, marker kind).

    Colouring by kind makes each colour group a kind, so one row per kind carries both its colour
    and its marker; otherwise the colour groups (drawn as circles) come first, then one white
    marker per kind present.

    Args:
        tmap: The projected space.
        color_by: ``kind`` or ``tag:KEY``.

    Returns:
        Rows in drawing order, no label repeated.
    """
    colours = groups(tmap, color_by)
    kinds = [k for k in MARKERS if any(p.kind == k for p in tmap.points)]
    if color_by == "kind":
        return [(k, colours[k], k) for k in kinds]
    rows = [(g, c, "dataset") for g, c in colours.items()]
    return rows + [(k, "#ffffff", k) for k in kinds if k not in colours]


def _overlaps(a: Bbox, others: list[Bbox], pad: float = 1.0) -> bool:
    """Whether box ``a`` (grown by ``pad`` pixels) meets any of ``others``."""
    from matplotlib.transforms import Bbox

    grown = Bbox.from_extents(a.x0 - pad, a.y0 - pad, a.x1 + pad, a.y1 + pad)
    return any(grown.overlaps(b) for b in others)


def _candidates(step: float) -> list[tuple[float, float]]:
    """Label offsets (points) to try, nearest first: right/left of the point, stepping up and down."""
    out = [(6.0, 4.0), (6.0, -10.0), (-6.0, 4.0), (-6.0, -10.0)]
    for ring in range(1, 25):
        for dy in (ring * step, -ring * step):
            out += [(6.0 + ring, 4.0 + dy), (-6.0 - ring, 4.0 + dy)]
    return out


def place_labels(fig: Figure, ax: Axes, points: list[MapPoint], fontsize: float = 8) -> list[Annotation]:
    """Label every point without two labels overlapping (a greedy repel).

    Each label takes the first offset of ``_candidates`` whose text box meets no label placed
    before it, no marker and stays inside the axes; a label moved away from its point gets a thin
    leader line. Points are labelled from the top down, so crowded clusters fan out evenly.

    Args:
        fig: The figure (its renderer measures the text).
        ax: The axes holding the points.
        points: The points to label.
        fontsize: Label size in points.

    Returns:
        The annotations, one per point.
    """
    from matplotlib.transforms import Bbox

    if len(points) > MAX_REPEL:  # too many to repel in reasonable time: fixed offsets
        return [
            ax.annotate(p.name, (p.x, p.y), textcoords="offset points", xytext=(6, 4), fontsize=fontsize)
            for p in points
        ]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    area = ax.get_window_extent(renderer)
    half = 5 * fig.dpi / 72.0  # half a marker, in pixels
    markers = [
        Bbox.from_extents(x - half, y - half, x + half, y + half)
        for x, y in ax.transData.transform([(p.x, p.y) for p in points])
    ]
    placed: list[Bbox] = []
    notes = []
    for p in sorted(points, key=lambda q: (-q.y, q.x)):
        note = ax.annotate(p.name, (p.x, p.y), textcoords="offset points", xytext=(6, 4), fontsize=fontsize)
        moved = _find_spot(note, renderer, area, placed, markers, fontsize)
        if moved:  # far from its point: redraw with a leader line
            offset = note.xyann
            note.remove()
            note = ax.annotate(p.name, (p.x, p.y), textcoords="offset points", xytext=offset, fontsize=fontsize,
                               ha="left" if offset[0] > 0 else "right", arrowprops=LEADER)  # fmt: skip
        placed.append(note.get_window_extent(renderer))
        notes.append(note)
    return notes


def _find_spot(
    note: Annotation, renderer: Any, area: Bbox, placed: list[Bbox], markers: list[Bbox], fontsize: float
) -> bool:
    """Move ``note`` to the first candidate offset that is free and inside ``area``.

    Args:
        note: The label (its offset and alignment are changed in place).
        renderer: The figure's renderer (measures text).
        area: The axes' window extent (pixels).
        placed: Boxes of the labels placed so far.
        markers: Boxes of the markers.
        fontsize: Label size (sets the vertical step).

    Returns:
        Whether the label ended beyond the four spots next to its point (it needs a leader line).
    """
    cands = _candidates(fontsize * 1.3)
    for i, (dx, dy) in enumerate(cands):
        note.xyann = (dx, dy)
        note.set_horizontalalignment("left" if dx > 0 else "right")
        box = note.get_window_extent(renderer)
        inside = area.x0 <= box.x0 and box.x1 <= area.x1 and area.y0 <= box.y0 and box.y1 <= area.y1
        if inside and not _overlaps(box, placed) and not _overlaps(box, markers, 0.0):
            return i > 3
    note.xyann = cands[0]  # nowhere free: the usual spot
    note.set_horizontalalignment("left")
    return False


def draw_png(tmap: TaskMap, color_by: str) -> Figure:
    """The map as a matplotlib figure (Agg backend: no display needed), labels repelled.

    Args:
        tmap: The projected space.
        color_by: ``kind`` or ``tag:KEY``.

    Returns:
        The figure; the caller saves and closes it.
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
    handles = [
        Line2D([], [], marker=MARKERS[k], ls="", color=c, markeredgecolor="black", label=label)
        for label, c, k in legend_entries(tmap, color_by)
    ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_title(title_of(tmap, color_by), fontsize=10)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.margins(0.18)  # room for labels beside the outermost points
    ax.grid(alpha=0.3)
    fig.tight_layout()
    place_labels(fig, ax, tmap.points)
    return fig


def write_png(tmap: TaskMap, color_by: str, out: Path) -> None:
    """Draw the map into a PNG file.

    Args:
        tmap: The projected space.
        color_by: ``kind`` or ``tag:KEY``.
        out: PNG path (its folder must exist).
    """
    import matplotlib.pyplot as plt

    fig = draw_png(tmap, color_by)
    fig.savefig(out)
    plt.close(fig)


def nice_step(span: float, n: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``n`` ticks over ``span``."""
    raw = (span or 1.0) / max(n, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values inside ``[lo, hi]`` (about ``n`` of them).

    Args:
        lo: Lower end.
        hi: Upper end (``hi == lo`` gives ticks around the value).
        n: Wanted number of ticks.

    Returns:
        Increasing tick values, each a multiple of ``nice_step``.
    """
    if hi <= lo:
        lo, hi = lo - 0.5, lo + 0.5
    step = nice_step(hi - lo, n)
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's text with as many decimals as the step needs (never ``-0``)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


@dataclass(frozen=True)
class Frame:
    """The SVG plot area and the data window it shows (5 % padding around the points).

    Attributes:
        x0, x1, y0, y1: Data window.
        left, top, right, bottom: Plot area in pixels.
    """

    x0: float
    x1: float
    y0: float
    y1: float
    left: float = PLOT_LEFT
    top: float = PLOT_TOP
    right: float = WIDTH - LEGEND_W - LABEL_ROOM
    bottom: float = HEIGHT - PLOT_BOTTOM

    @classmethod
    def around(cls, points: list[MapPoint]) -> Frame:
        """The frame holding every point."""
        xs, ys = [p.x for p in points], [p.y for p in points]
        pad_x, pad_y = 0.05 * ((max(xs) - min(xs)) or 1.0), 0.05 * ((max(ys) - min(ys)) or 1.0)
        return cls(min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y)

    def px(self, x: float) -> float:
        """Data x -> SVG x."""
        return self.left + (x - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def py(self, y: float) -> float:
        """Data y -> SVG y (y grows upwards in the data)."""
        return self.top + (self.y1 - y) / (self.y1 - self.y0) * (self.bottom - self.top)

    def scale(self, x: float, y: float) -> tuple[float, float]:
        """Data point -> SVG pixels."""
        return self.px(x), self.py(y)


def axes_svg(frame: Frame) -> str:
    """A box around the plot area, ticks with values on both axes and the axis titles.

    Args:
        frame: The plot area and data window.

    Returns:
        A ``<g class="axes">`` element (``line.tick`` and ``text.tick`` per tick).
    """
    parts = [
        f'<rect x="{frame.left}" y="{frame.top}" width="{frame.right - frame.left}" '
        f'height="{frame.bottom - frame.top}" fill="none" stroke="#444"/>'
    ]
    xstep, ystep = nice_step(frame.x1 - frame.x0), nice_step(frame.y1 - frame.y0)
    for v in nice_ticks(frame.x0, frame.x1):
        x = frame.px(v)
        parts.append(
            f'<line class="tick" x1="{x:.1f}" y1="{frame.bottom}" x2="{x:.1f}" y2="{frame.bottom + 5}" stroke="#444"/>'
            f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{frame.bottom}" stroke="#eee"/>'
            f'<text class="tick" x="{x:.1f}" y="{frame.bottom + 18}" font-size="11" text-anchor="middle">'
            f"{tick_label(v, xstep)}</text>"
        )
    for v in nice_ticks(frame.y0, frame.y1):
        y = frame.py(v)
        parts.append(
            f'<line class="tick" x1="{frame.left - 5}" y1="{y:.1f}" x2="{frame.left}" y2="{y:.1f}" stroke="#444"/>'
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text class="tick" x="{frame.left - 8}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{tick_label(v, ystep)}</text>"
        )
    mid_x, mid_y = (frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2
    parts.append(
        f'<text x="{mid_x:.1f}" y="{frame.bottom + 40}" font-size="12" text-anchor="middle">component 1</text>'
        f'<text x="18" y="{mid_y:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 18 {mid_y:.1f})">component 2</text>'
    )
    return '<g class="axes">' + "".join(parts) + "</g>"


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


def _legend_svg(entries: list[tuple[str, str, str]]) -> str:
    """The legend: one row per ``legend_entries`` row (marker in its colour, then the label)."""
    x = WIDTH - LEGEND_W + 10
    rows = []
    for i, (label, colour, kind) in enumerate(entries):
        y = PLOT_TOP + 18 * i
        rows.append(
            marker_svg(kind, x, y, colour, 6)
            + f'<text x="{x + 12}" y="{y + 4}" font-size="12">{escape(label)}</text>'
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
    frame = Frame.around(tmap.points)
    parts = []
    for p in tmap.points:
        group = p.colour_key(color_by)
        hi = highlight == (p.kind, p.name)
        parts.append(
            _point_svg(p, frame.scale(p.x, p.y), colours[group], group, href(p) if href else None, hi)
        )
    title = escape(title_of(tmap, color_by))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="taskmap" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{title}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
        f'<text x="{PLOT_LEFT}" y="{TITLE_Y}" font-size="14" font-weight="bold">{title}</text>'
        + axes_svg(frame)
        + "".join(parts)
        + _legend_svg(legend_entries(tmap, color_by))
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
