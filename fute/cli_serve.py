"""CLI command ``fute serve``: the HTTP service (``fute.http``) under uvicorn."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fute.cli_common import Leaf
from registry.settings import Settings

TOKEN_ENV = "FUTE_API_TOKEN"


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """``fute serve``: answer HTTP requests until interrupted.

    Args:
        args: ``--host``, ``--port`` and ``--token`` (default: env ``FUTE_API_TOKEN``).
        settings: Registry settings.

    Returns:
        0 after a clean shutdown.

    Raises:
        RegistryNotInitializedError: ``fute init`` was never run.
    """
    import uvicorn

    from fute.http import create_app

    token = args.token if args.token is not None else settings.api_token
    app = create_app(settings, token or None)
    writes = "writes need the bearer token" if token else f"read-only (set {TOKEN_ENV} to allow writes)"
    print(f"fute serve: http://{args.host}:{args.port} (docs at /docs; {writes})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_commands(sub: Any, leaf: Leaf) -> None:
    """Add ``fute serve [--host H] [--port P] [--token T]`` to the top-level sub-parsers.

    Args:
        sub: The top-level sub-parsers of ``fute``.
        leaf: ``build_parser``'s helper: ``leaf(group, name, handler, help) -> ArgumentParser``.
    """
    p = leaf(sub, "serve", cmd_serve, "HTTP API over the registry (reads open, writes need a token)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument(
        "--token",
        default=None,
        help=f"bearer token for write endpoints (default: env {TOKEN_ENV}; none = read-only)",
    )
