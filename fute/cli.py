"""The ``fute`` command line: parse, call the library, print. No logic lives here.

Every command exits 0 on success, 1 when a check finds problems, 2 on an error (one line on
stderr naming the problem and the fix). ``--json`` prints machine-readable output on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from fute.cli_common import Handler, closed_pipe, print_json, route_warnings_to_log
from fute.cli_data import add_commands as add_data_commands
from fute.cli_edit import add_edit_commands
from fute.cli_embed import add_commands as add_engine_commands
from fute.cli_maintain import add_commands as add_maintain_commands
from fute.cli_map import add_commands as add_map_commands
from fute.cli_query import add_commands as add_query_commands
from fute.cli_recall import add_recall_command
from fute.cli_serve import add_commands as add_serve_commands
from fute.cli_spaces import add_space_commands
from fute.cli_types import int_range
from ingest.progress import reporting
from registry.api import Registry
from registry.defaults import stored_default_space
from registry.errors import RegistryError
from registry.settings import Settings


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """``fute init``: create the home folder and the schema."""
    reg = Registry(settings)
    revision = reg.init()
    out = {
        "home": str(settings.home),
        "database": reg.db.engine.url.render_as_string(hide_password=True),
        "revision": revision,
    }
    print_json(out) if args.json else print(f"registry ready at {out['database']} (schema {revision})")
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """``fute db upgrade``: apply pending migrations."""
    revision = Registry(settings).db.upgrade()
    print_json({"revision": revision}) if args.json else print(f"schema at {revision}")
    return 0


def cmd_spaces_list(args: argparse.Namespace, settings: Settings) -> int:
    """``fute spaces list``: one row per embedding space (``*``: the stored default)."""
    reg = Registry.open(settings)
    default = stored_default_space(reg.db)
    rows: list[dict[str, Any]] = [
        {
            "name": s.name,
            "method": s.method,
            "surrogate": s.surrogate,
            "dim": s.dim,
            "metric": s.metric,
            "index_type": s.index_type,
            "n_embeddings": n,
            "fingerprint": s.fingerprint,
            "generation": s.generation,
            "default": s.name == default,
        }
        for s, n in reg.spaces()
    ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no embedding spaces yet (run `fute quickstart`)")
    for r in rows:
        print(
            f"{'*' if r['default'] else ' '} {r['name']:<28} {r['method']:<10} dim={r['dim']:<6} n={r['n_embeddings']:<6} {r['fingerprint'][:12]}"
        )
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    """``fute stats``: counts per kind and space, disk sizes, last job."""
    out = Registry.open(settings).stats()
    if args.json:
        print_json(out)
        return 0
    print("subjects: " + ", ".join(f"{k}={v}" for k, v in out["subjects"].items()))
    for s in out["spaces"]:
        kinds = ", ".join(f"{k}={v}" for k, v in s["by_kind"].items() if v)
        print(
            f"space {s['name']}: {s['n_embeddings']} vectors ({kinds or 'none'}), {s['method']}, "
            f"dim {s['dim']}, {s['index_type']}, {s['index_bytes']} bytes"
        )
    print(
        f"disk: database {out['disk_bytes']['database']} bytes, indexes {out['disk_bytes']['indexes']} bytes"
    )
    job = out["last_job"]
    print(
        "last job: none"
        if job is None
        else f"last job: {job['id']} {job['kind']} {job['status']} "
        f"({job['n_done']}/{job['n_total']} done, {job['n_failed']} failed)"
    )
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """``fute maintain verify``: exit 1 when any problem is found."""
    report = Registry.open(settings).verify()
    if args.json:
        print_json(report.to_dict())
    else:
        for s in report.spaces:
            print(
                f"{s.name}: sql={s.sql_count} index={s.index_count} generation={s.generation}/{s.index_generation}"
            )
        print("ok" if report.ok else "\n".join(f"PROBLEM: {p}" for p in report.problems))
    return 0 if report.ok else 1


def cmd_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """``fute maintain rebuild``: rebuild indexes from SQL into a new generation."""
    names = Registry.open(settings).rebuild(args.space)
    print_json({"rebuilt": names}) if args.json else print("rebuilt: " + (", ".join(names) or "nothing"))
    return 0


def cmd_quickstart(args: argparse.Namespace, settings: Settings) -> int:
    """``fute quickstart``: the starter catalogue, a classifier and two prompts, embedded and ranked."""
    from fute.quickstart import QuickstartConfig, run

    reg = Registry(settings)
    reg.init()
    out = run(reg, QuickstartConfig(probes=args.probes), show_progress=not args.json)
    ok = out["verify"]["ok"] and out["job"]["status"] == "done"
    if args.json:
        print_json(out)
        return 0 if ok else 1
    counts = out["job"]["counts"]
    print(
        f"job {out['job']['job_id']}: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"
    )
    for title, key in (
        ("transfer sources for rte", "sources"),
        ("prompts for sst2", "prompts"),
        ("models for sst2", "models"),
    ):
        print(f"{title}: " + ", ".join(f"{n} ({s:.3f})" for n, s in out[key]))
    print(f"registry: {out['home']} ({out['database']})")
    print("next: fute spaces list | fute datasets list | fute stats | fute maintain verify")
    print("verify: " + ("ok" if out["verify"]["ok"] else "; ".join(out["verify"]["problems"])))
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--home``/``--db``/``--device`` accepted before or after the command)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help="registry folder (env FUTE_HOME, default ./.fute)"
    )
    common.add_argument(
        "--db", default=argparse.SUPPRESS, help="database URL (env FUTE_DB_URL), overrides SQLite"
    )
    common.add_argument(  # checked by Settings.build: one "fute: error:" line, like FUTE_DEVICE
        "--device",
        default=argparse.SUPPRESS,
        help="torch device of embedding and fine-tuning: auto|cpu|cuda|cuda:N (env FUTE_DEVICE, default auto)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print tracebacks of errors (env FUTE_DEBUG=1)",
    )
    parser = argparse.ArgumentParser(
        prog="fute", description="FUTE task-embedding registry", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def leaf(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        p.set_defaults(handler=handler)
        return p

    leaf(sub, "init", cmd_init, "create the registry (home folder, schema)")
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    leaf(db, "upgrade", cmd_db_upgrade, "apply pending schema migrations")
    spaces = sub.add_parser("spaces", help="embedding spaces").add_subparsers(
        dest="spaces_command", required=True
    )
    leaf(spaces, "list", cmd_spaces_list, "list embedding spaces")
    add_space_commands(spaces, leaf)
    ingest = sub.add_parser("ingest", help="register and embed").add_subparsers(
        dest="ingest_command", required=True
    )
    leaf(sub, "stats", cmd_stats, "counts per kind and space, disk sizes, last job")
    maintain = sub.add_parser("maintain", help="maintenance jobs").add_subparsers(
        dest="maintain_command", required=True
    )
    leaf(maintain, "verify", cmd_verify, "check SQL against the FAISS indexes; exit 1 on problems")
    leaf(maintain, "rebuild", cmd_rebuild, "rebuild indexes from SQL").add_argument(
        "--space", help="only this space"
    )
    add_maintain_commands(sub, maintain, leaf)
    add_recall_command(maintain, leaf)
    add_data_commands(sub, ingest, leaf)
    add_engine_commands(sub, spaces, ingest, leaf)
    add_query_commands(sub, leaf)
    add_serve_commands(sub, leaf)
    add_map_commands(sub, leaf)
    add_edit_commands(sub, leaf)
    quick = leaf(sub, "quickstart", cmd_quickstart, "offline demo job: embed packaged tasks, query, verify")
    quick.add_argument(
        "--probes",
        type=int_range(1, 1_000_000),
        default=256,
        help="probe texts of the quickstart space (default 256)",
    )
    return parser


def quiet_libraries() -> None:
    """Keep model-loading chatter (load reports, weight-loading bars) off the user's terminal;
    our own progress lines and errors remain."""
    import os

    route_warnings_to_log()  # a library's warning is not the user's business unless --debug
    # Set through the environment, which transformers and huggingface_hub read when they are first
    # imported: importing them here would cost every command (even `--help`) seconds of start-up.
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    # A library this process has already imported (the Python API, tests) has read its environment:
    # configure it directly; that costs nothing, as it is loaded.
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars  # type: ignore[attr-defined]

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fute`` console script.

    Errors print one line and exit 2; ``--debug`` (or ``FUTE_DEBUG=1``) adds the traceback.
    """
    args = build_parser().parse_args(argv)
    quiet_libraries()
    debug = debug_mode(args)
    try:
        settings = Settings.build(
            home=getattr(args, "home", None),
            db=getattr(args, "db", None),
            device=getattr(args, "device", None),
        )
        with reporting(show=not getattr(args, "json", False)):  # long steps: bar on a terminal, else lines
            code: int = args.handler(args, settings)
        sys.stdout.flush()  # a closed pipe fails here, inside the handler below, not at interpreter exit
        return code
    except RegistryError as exc:
        return report_error(str(exc), debug)
    except BrokenPipeError:  # `fute ... | head`: the reader has all it wanted
        return closed_pipe()
    except Exception as exc:  # a bug or an unforeseen input: one line unless debugging
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return report_error(
            f"unexpected {type(exc).__name__}: {first[:300]} (rerun with --debug for the traceback, "
            "and please report it)",
            debug,
        )


def debug_mode(args: argparse.Namespace) -> bool:
    """``--debug`` or ``FUTE_DEBUG=1``: show tracebacks and debug logs."""
    import logging
    import os

    debug = bool(getattr(args, "debug", False)) or os.environ.get("FUTE_DEBUG", "") not in ("", "0")
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    return debug


def report_error(message: str, debug: bool) -> int:
    """Print ``fute: error: MESSAGE`` (after the traceback when debugging); returns exit code 2."""
    if debug:
        import traceback

        traceback.print_exc()
    print(f"fute: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
