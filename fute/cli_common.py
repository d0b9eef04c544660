"""Pieces shared by the CLI modules: handler types, JSON printing, ``key=value`` flags, embedding.

Every ``fute/cli_*.py`` module may import this one and none imports another command module, so the
command modules form no import loop."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from registry.errors import InvalidDataError
from registry.settings import Settings

if TYPE_CHECKING:  # the engine loads torch: imported only where something is embedded
    from ingest.engine import Engine

Handler = Callable[[argparse.Namespace, Settings], int]
# build_parser's helper: leaf(group, name, handler, help) -> the new sub-command's parser
Leaf = Callable[[Any, str, Handler, str], argparse.ArgumentParser]


def print_json(payload: Any) -> None:
    """The stable ``--json`` output: indented, sorted keys, non-JSON values as strings."""
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


def parse_tags(values: list[str], flag: str = "--tag") -> tuple[tuple[str, str], ...]:
    """``key=value`` strings to pairs.

    Args:
        values: The raw flag values.
        flag: The flag they came from, named in the error (``--tag``, ``--where``).

    Raises:
        InvalidDataError: A value without ``=`` or with an empty key.
    """
    out = []
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidDataError(f"{flag} needs key=value, got {raw!r}")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def parse_params(values: list[str]) -> dict[str, str]:
    """``key=value`` hyper-parameter overrides.

    Raises:
        InvalidDataError: A value without ``=``.
    """
    pairs = parse_tags(values)
    return dict(pairs)


def embed_into(
    engine: Engine, spaces: list[str], name: str, kind: str, as_json: bool
) -> list[dict[str, Any]]:
    """Embed one subject into each named space; returns one summary per space."""
    out = []
    for space in spaces:
        res = engine.embed(space, name, kind)
        out.append(
            {
                "space": space,
                "embedding_id": res.embedding_id,
                "seconds": round(res.seconds, 2),
                "blackbox_queries": res.blackbox_queries,
            }
        )
        if not as_json:
            print(f"embedded {name} in {space} ({res.seconds:.1f} s)", file=sys.stderr)
    return out


# 128 + SIGPIPE, what a shell reports for a writer whose reader went away (`git log | head` does too)
CLOSED_PIPE_EXIT = 141


def route_warnings_to_log() -> None:
    """Send Python warnings (a library's SAWarning, FutureWarning, ...) to the ``fute.warnings`` logger
    at DEBUG level instead of the terminal: a user sees them only with ``--debug``."""
    import logging
    import warnings

    log = logging.getLogger("fute.warnings")

    def show(message: Any, category: Any, filename: str, lineno: int, *_: Any, **__: Any) -> None:
        log.debug("%s:%s: %s: %s", filename, lineno, category.__name__, message)

    warnings.showwarning = show


def closed_pipe() -> int:
    """The reader of stdout went away (``fute datasets show X | head``): stop quietly.

    Returns:
        ``CLOSED_PIPE_EXIT``.
    """
    import os
    import sys

    try:  # point stdout at /dev/null so the interpreter's final flush does not fail a second time
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (captured in tests): nothing to flush
        pass
    return CLOSED_PIPE_EXIT
