"""Catalogue edits: ``fute delete KIND NAME [--yes]``, ``fute tag KIND NAME [KEY=VALUE...]
[--remove KEY[=VALUE]]...`` and ``fute rename KIND OLD NEW [--yes]``.

Each goes through the registry function behind the matching HTTP route (``Registry.delete_subject``:
``DELETE /subjects/...``; ``registry.edits.edit_tags`` and ``rename_subject``: ``PATCH /subjects/...``).
Destructive edits (delete, tag removal, rename) ask for confirmation on a terminal and need ``--yes``
otherwise (scripts, CI); adding tags does not ask. All are safe to re-run: a deleted or renamed
subject is reported as not found, an existing tag is kept once, an absent tag is not removed twice.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fute.cli_common import Leaf, parse_tags, print_json
from registry.api import Registry
from registry.edits import TagRemoval, edit_tags, get_tags, rename_subject, vector_count
from registry.errors import ConfigError, InvalidDataError
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


def parse_removals(values: list[str]) -> tuple[TagRemoval, ...]:
    """``--remove KEY`` (every value) or ``--remove KEY=VALUE`` (that value) to pairs.

    Raises:
        InvalidDataError: An empty key or value.
    """
    out: list[TagRemoval] = []
    for raw in values:
        key, sep, value = raw.partition("=")
        if not key.strip() or (sep and not value.strip()):
            raise InvalidDataError(f"--remove needs KEY or KEY=VALUE, got {raw!r}")
        out.append((key.strip(), value.strip() if sep else None))
    return tuple(out)


def cmd_tag(args: argparse.Namespace, settings: Settings) -> int:
    """``fute tag KIND NAME [KEY=VALUE...] [--remove KEY[=VALUE]]...``."""
    add, remove = parse_tags(args.tags, "tag"), parse_removals(args.remove)
    if not add and not remove:
        raise InvalidDataError("fute tag needs KEY=VALUE tags to add or --remove KEY[=VALUE]")
    db = Registry.open(settings).db
    if remove:
        present = get_tags(db, args.kind, args.name)  # also: unknown name -> one-line error
        shown = ", ".join(k if v is None else f"{k}={v}" for k, v in remove)
        asked = f"remove tag(s) {shown} from {args.kind} {args.name!r} (has {_tag_text(present) or 'none'})?"
        if not confirm(asked, args.yes):
            print("no tag changed")
            return 1
    tags = edit_tags(db, args.kind, args.name, add=add, remove=remove)
    out: dict[str, Any] = {"name": args.name, "kind": args.kind, "tags": tags}
    print_json(out) if args.json else print(f"{args.kind} {args.name}: {_tag_text(tags) or '(no tags)'}")
    return 0


def cmd_rename(args: argparse.Namespace, settings: Settings) -> int:
    """``fute rename KIND OLD NEW [--yes]``."""
    reg = Registry.open(settings)
    get_tags(reg.db, args.kind, args.old)  # unknown name -> one-line error before asking
    if not confirm(f"rename {args.kind} {args.old!r} to {args.new!r}?", args.yes):
        print("nothing renamed")
        return 1
    rename_subject(reg.db, args.kind, args.old, args.new)
    out = {"renamed": args.old, "to": args.new, "kind": args.kind}
    print_json(out) if args.json else print(f"renamed {args.kind} {args.old} to {args.new}")
    return 0


def _tag_text(tags: dict[str, list[str]]) -> str:
    return ", ".join(f"{k}={'|'.join(v)}" for k, v in tags.items())


def add_edit_commands(sub: Any, leaf: Leaf) -> None:
    """Register ``fute delete``, ``fute tag`` and ``fute rename``."""
    p = leaf(sub, "delete", cmd_delete, "delete a dataset, model or prompt with its tags and vectors")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = leaf(sub, "tag", cmd_tag, "add or remove tags of a dataset, model or prompt")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("name")
    p.add_argument("tags", nargs="*", metavar="KEY=VALUE", help="tags to add")
    p.add_argument(
        "--remove", action="append", default=[], metavar="KEY[=VALUE]",
        help="remove every value of KEY, or only VALUE (repeatable; asks first)",
    )  # fmt: skip
    p.add_argument("--yes", action="store_true", help="do not ask before removing")
    p = leaf(sub, "rename", cmd_rename, "rename a dataset, model or prompt (id, tags and vectors stay)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
