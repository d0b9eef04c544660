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
