"""CLI command ``fute map``: a 2D picture of one embedding space (PNG or self-contained HTML)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fute.cli_common import Leaf, parse_tags, print_json
from query.taskmap import METHODS, build_map, check_color, map_space
from registry.api import Registry
from registry.errors import InvalidDataError
from registry.settings import Settings

SUFFIXES = (".png", ".html", ".htm")


def cmd_map(args: argparse.Namespace, settings: Settings) -> int:
    """``fute map``: project a space to 2D and draw it.

    Args:
        args: ``--space``, ``--where``, ``--color``, ``--method``, ``--seed``, ``--out``, ``--json``.
        settings: Registry settings.

    Returns:
        0 once the file is written.

    Raises:
        InvalidDataError: Bad ``--out`` suffix, ``--color``, ``--where`` or an empty selection.
        ConfigError: No space exists; UMAP / t-SNE package missing.
    """
    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
        raise InvalidDataError(f"--out {args.out!r}: end the file name with .png or .html")
    if not out.parent.is_dir():
        raise InvalidDataError(
            f"--out {args.out!r}: folder {str(out.parent)!r} does not exist; create it first"
        )
    check_color(args.color)
    reg = Registry.open(settings)
    try:
        choice = map_space(reg, args.space)
        space = choice.name
        tmap = build_map(reg, space, parse_tags(args.where, "--where"), args.method, args.seed)
    finally:
        reg.close()
    if choice.note:
        print(f"note: {choice.note}", file=sys.stderr)
    from fute.map_render import write_html, write_png  # the renderer loads only when drawing

    (write_png if out.suffix.lower() == ".png" else write_html)(tmap, args.color, out)
    if args.json:
        print_json({**tmap.to_dict(), "out": str(out), "color": args.color})
    else:
        print(f"map of {space} ({len(tmap.points)} subjects, {tmap.method}) written to {out}")
    return 0


def add_commands(sub: Any, leaf: Leaf) -> None:
    """Add ``fute map`` to the top-level sub-parsers.

    Args:
        sub: The top-level sub-parsers of ``fute``.
        leaf: ``build_parser``'s helper: ``leaf(group, name, handler, help) -> ArgumentParser``.
    """
    p = leaf(sub, "map", cmd_map, "draw a 2D map of a space's subjects (PNG or self-contained HTML)")
    p.add_argument(
        "--space",
        help="space to draw (default: `fute spaces default`, else FUTE_DEFAULT_SPACE, else the only space, "
        "else the space with the most vectors)",
    )
    p.add_argument(
        "--where", action="append", default=[], help="key=value filter as in `fute query` (repeatable)"
    )
    p.add_argument(
        "--color", default="kind", help="colour by 'kind' (default) or 'tag:KEY' (e.g. tag:family)"
    )
    p.add_argument(
        "--method", choices=METHODS, default="pca", help="projection (umap/tsne need their package)"
    )
    p.add_argument("--seed", type=int, default=0, help="random state of umap / tsne (default 0)")
    p.add_argument("--out", required=True, help="output file: FILE.png or FILE.html")
