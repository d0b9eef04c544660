"""``fute spaces default [NAME | --clear]``: show, store or clear the registry's default space.

The stored default is the second step of the one space rule (``query.space_choice``): ``--space``,
else this default, else ``FUTE_DEFAULT_SPACE``, else the only space, else the space with the most
vectors. Storing it is one transaction, so an interrupted command leaves the old or the new default.
"""

from __future__ import annotations

import argparse
from typing import Any

from fute.cli_common import Leaf, print_json
from query.space_choice import choose_spaces
from registry.api import Registry
from registry.defaults import set_default_space, stored_default_space
from registry.errors import ConfigError
from registry.settings import Settings


def cmd_spaces_default(args: argparse.Namespace, settings: Settings) -> int:
    """``fute spaces default [NAME | --clear]``."""
    reg = Registry.open(settings)
    if args.name and args.clear:
        raise ConfigError("give a space NAME or --clear, not both")
    if args.name or args.clear:
        previous = set_default_space(reg.db, None if args.clear else args.name)
        out: dict[str, Any] = {"default": None if args.clear else args.name, "previous": previous}
        if args.json:
            print_json(out)
        elif args.clear:
            print(f"default space cleared (was {previous or 'none'})")
        else:
            print(f"default space: {args.name} (was {previous or 'none'})")
        return 0
    return _show(reg, args.json)


def _show(reg: Registry, as_json: bool) -> int:
    """Print the stored default and the space a command naming none would use now."""
    stored = stored_default_space(reg.db)
    try:
        choice = choose_spaces(reg)
        used, reason = choice.name, choice.note or ""
    except ConfigError as exc:  # no space yet: say so, this is not an error of `spaces default`
        used, reason = None, str(exc)
    if as_json:
        print_json({"default": stored, "in_use": used, "note": reason})
        return 0
    print(f"stored default: {stored or 'none'}")
    print(f"a command without --space uses: {used or 'nothing'} ({reason})")
    return 0


def add_space_commands(spaces: Any, leaf: Leaf) -> None:
    """Register ``fute spaces default`` under the ``spaces`` group."""
    p = leaf(spaces, "default", cmd_spaces_default, "show, store or clear the default space")
    p.add_argument("name", nargs="?", help="space to use when a command names none")
    p.add_argument("--clear", action="store_true", help="forget the stored default")
