"""Catalogue edits: ``fute delete KIND NAME [--yes]`` and ``fute tag KIND NAME KEY=VALUE...``.

``delete`` goes through ``Registry.delete_subject``, the function behind ``DELETE /subjects/...``;
it asks for confirmation on a terminal and needs ``--yes`` otherwise (scripts, CI). Both are safe to
re-run: a deleted subject is reported as not found, an existing tag is kept once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fute.cli_common import Leaf, print_json
from fute.cli_data import parse_tags
from registry.api import Registry
from registry.edits import add_tags, vector_count
from registry.errors import ConfigError
from registry.settings import Settings

KINDS = ("dataset", "model", "prompt")


def confirm(question: str, yes: bool) -> bool:
    """True with ``--yes``; on a terminal ask; anywhere else refuse with the fix.

    Raises:
        ConfigError: Not a terminal and no ``--yes``.
    """
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(f"{question} needs confirmation: pass --yes (stdin is not a terminal)")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    """``fute delete KIND NAME [--yes]``."""
    reg = Registry.open(settings)
    n = vector_count(reg.db, args.kind, args.name)  # also: unknown name -> one-line error
    if not confirm(f"delete {args.kind} {args.name!r} with its tags and {n} vector(s)?", args.yes):
        print("nothing deleted")
        return 1
    reg.delete_subject(args.name, args.kind)
    out = {"deleted": args.name, "kind": args.kind, "vectors": n}
    print_json(out) if args.json else print(f"deleted {args.kind} {args.name} and {n} vector(s)")
    return 0


def cmd_tag(args: argparse.Namespace, settings: Settings) -> int:
    """``fute tag KIND NAME KEY=VALUE...``."""
    tags = add_tags(Registry.open(settings).db, args.kind, args.name, parse_tags(args.tags, "tag"))
    out: dict[str, Any] = {"name": args.name, "kind": args.kind, "tags": tags}
    if args.json:
        print_json(out)
    else:
        shown = ", ".join(f"{k}={'|'.join(v)}" for k, v in tags.items())
        print(f"{args.kind} {args.name}: {shown}")
    return 0


def add_edit_commands(sub: Any, leaf: Leaf) -> None:
    """Register ``fute delete`` and ``fute tag``."""
    p = leaf(sub, "delete", cmd_delete, "delete a dataset, model or prompt with its tags and vectors")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = leaf(sub, "tag", cmd_tag, "add tags to a dataset, model or prompt")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("name")
    p.add_argument("tags", nargs="+", metavar="KEY=VALUE")
