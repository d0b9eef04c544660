"""Pieces shared by the CLI modules: handler types and JSON printing."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from registry.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
# build_parser's helper: leaf(group, name, handler, help) -> the new sub-command's parser
Leaf = Callable[[Any, str, Handler, str], argparse.ArgumentParser]


def print_json(payload: Any) -> None:
    """The stable ``--json`` output: indented, sorted keys, non-JSON values as strings."""
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


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
