"""CLI commands of the embedding engine: spaces, models, prompts, embedding, catalogue jobs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fute.cli_common import Leaf, embed_into, parse_params, parse_tags, print_json
from fute.cli_ray import add_ray_arguments, ray_options
from ingest.names import DEFAULT_SURROGATE, METHODS, MODEL_KINDS
from query.options import parse_where
from registry.api import Registry
from registry.errors import InvalidDataError, SourceUnavailableError
from registry.faiss_index import INDEX_TYPES
from registry.settings import Settings

if TYPE_CHECKING:
    from ingest.engine import Engine


def _engine(reg: Registry) -> Engine:
    """The embedding engine; imported here, on first use, because it loads torch and transformers."""
    from ingest.engine import Engine

    return Engine(reg)


def cmd_spaces_create(args: argparse.Namespace, settings: Settings) -> int:
    """``fute spaces create NAME --method M``."""
    overrides: dict[str, Any] = parse_params(args.param)
    if args.dim is not None:
        overrides["dim"] = args.dim
    space = _engine(Registry.open(settings)).create_space(
        args.name, args.method, args.surrogate, overrides, args.probe, args.index
    )
    row = {
        "name": space.name,
        "method": space.method,
        "surrogate": space.surrogate,
        "dim": space.dim,
        "fingerprint": space.fingerprint,
        "params": space.params,
        "index_type": space.index_type,
    }
    print_json(row) if args.json else print(
        f"space {space.name}: {space.method}, dim {space.dim}, {space.fingerprint[:12]}"
    )
    return 0


def cmd_ingest_model(args: argparse.Namespace, settings: Settings) -> int:
    """``fute ingest model SOURCE --name N [--space S]``."""
    from ingest.register_entries import register_model  # loads the engine (torch)

    reg = Registry.open(settings)
    model_id = register_model(reg, args.name, args.source, args.kind, parse_tags(args.tag))
    out = {
        "name": args.name,
        "id": model_id,
        "kind": args.kind,
        "embeddings": embed_into(_engine(reg), args.space, args.name, "model", args.json),
    }
    print_json(out) if args.json else print(f"registered model {args.name} ({args.kind})")
    return 0


def cmd_ingest_prompt(args: argparse.Namespace, settings: Settings) -> int:
    """``fute ingest prompt --llm SOURCE --template TEXT|@FILE --verbalizers JSON --name N``."""
    template = _read_template(args.template)
    try:
        verbalizers = json.loads(args.verbalizers)
    except ValueError as exc:
        raise InvalidDataError(f'--verbalizers must be JSON, e.g. \'[[" no"], [" yes"]]\' ({exc})') from exc
    reg = Registry.open(settings)
    entry = {
        "name": args.name,
        "llm": args.llm,
        "template": template,
        "verbalizers": verbalizers,
        "tags": dict(parse_tags(args.tag)),
        "llm_kind": args.llm_kind,
    }
    from ingest.register_entries import register_prompt  # loads the engine (torch)

    prompt_id = register_prompt(reg, entry)
    out = {
        "name": args.name,
        "id": prompt_id,
        "embeddings": embed_into(_engine(reg), args.space, args.name, "prompt", args.json),
    }
    print_json(out) if args.json else print(f"registered prompt {args.name}")
    return 0


def _read_template(value: str) -> str:
    """``--template TEXT`` or ``--template @FILE``.

    Raises:
        SourceUnavailableError: The file cannot be read as UTF-8 text.
    """
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the template file {value[1:]!r} ({exc}); check the path"
        ) from exc


def cmd_embed(args: argparse.Namespace, settings: Settings) -> int:
    """``fute embed NAME --space S``: (re)compute the vector of a registered subject; ``fute embed
    --all --space S [--kind K] [--where ...]``: a resumable job over every matching subject."""
    if args.all == (args.name is not None):
        raise InvalidDataError("fute embed takes a NAME or --all (with --kind / --where), not both")
    if args.all:
        return embed_all_spaces(args, settings)
    if args.where:
        raise InvalidDataError("--where selects subjects for --all; drop it or pass --all instead of NAME")
    out = embed_into(_engine(Registry.open(settings)), args.space, args.name, args.kind, args.json)
    print_json(out) if args.json else None
    return 0


def embed_all_spaces(args: argparse.Namespace, settings: Settings) -> int:
    """``fute embed --all``: one job per ``--space``; exit 1 when some subject failed."""
    from ingest.embed_all import embed_all  # loads the engine (torch)

    flt = parse_where(parse_tags(args.where, "--where"))
    if args.kind:
        flt = replace(flt, kinds=(args.kind,))
    reg = Registry.open(settings)
    engine, reports = _engine(reg), []
    for space in args.space:
        report = embed_all(reg, engine, space, flt, show_progress=not args.json)
        reports.append(report)
        if not args.json:
            c = report.to_dict()["counts"]
            print(
                f"job {report.job_id} ({space}): {c['done']} done, {c['skipped']} skipped, {c['failed']} failed"
            )
            for e in report.entries:
                if e["status"] == "failed":
                    print(f"FAILED {e['key']}: {e['error']}", file=sys.stderr)
    if args.json:
        print_json([r.to_dict() for r in reports])
    return 1 if any(r.count("failed") for r in reports) else 0


def cmd_ingest_catalogue(args: argparse.Namespace, settings: Settings) -> int:
    """``fute ingest catalogue FILE``: exit 1 when some entries failed (the rest are stored)."""
    from ingest.job_file import load_catalogue  # YAML + schema: only this command reads a file

    reg = Registry.open(settings)
    cat = load_catalogue(Path(args.file))
    if args.ray is not None:
        from ingest.ray_jobs import run_catalogue_ray  # loads the engine (torch) and Ray

        report = run_catalogue_ray(reg, _engine(reg), cat, ray_options(args), show=not args.json)
    else:
        from ingest.jobs import run_catalogue  # loads the engine (torch)

        report = run_catalogue(reg, _engine(reg), cat, show_progress=not args.json)
    if args.json:
        print_json(report.to_dict())
    else:
        for e in report.entries:
            if e["status"] == "failed":
                print(f"FAILED {e['key']}: {e['error']}", file=sys.stderr)
        counts = report.to_dict()["counts"]
        print(
            f"job {report.job_id}: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed"
        )
    return 1 if report.count("failed") else 0


def add_commands(sub: Any, spaces: Any, ingest: Any, leaf: Leaf) -> None:
    """Attach the engine commands (``spaces create``, ``ingest model|prompt|catalogue``, ``embed``)."""
    p = leaf(spaces, "create", cmd_spaces_create, "define an embedding space")
    p.add_argument("name")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--surrogate", default=DEFAULT_SURROGATE, help=f"default {DEFAULT_SURROGATE}")
    p.add_argument("--dim", type=int, help="sketch dimension (taskemb; default 16384)")
    p.add_argument("--probe", help="probe set (needed to embed models and prompts)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="method hyper-parameter")
    p.add_argument(
        "--index", default="flat", choices=INDEX_TYPES, help="FAISS index type (ivfpq: compressed)"
    )
    p = leaf(ingest, "model", cmd_ingest_model, "register a model (a black box) and embed it")
    p.add_argument("source", help="Hugging Face id or local folder (classifier), LLM source, or endpoint URL")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", default="classifier", choices=MODEL_KINDS)
    p.add_argument("--space", action="append", default=[], help="embed into this space (repeatable)")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    p = leaf(ingest, "prompt", cmd_ingest_prompt, "register a prompt on an LLM and embed it")
    p.add_argument("--llm", required=True, help="pkg:smollm2, a Hugging Face id / folder, or an endpoint URL")
    p.add_argument("--llm-kind", default="llm", choices=["llm", "openai"])
    p.add_argument("--template", required=True, help="prompt text with {text} (and {text_pair}), or @FILE")
    p.add_argument("--verbalizers", required=True, help="JSON: one word or list of words per class")
    p.add_argument("--name", required=True)
    p.add_argument("--space", action="append", default=[], help="embed into this space (repeatable)")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    p = leaf(ingest, "catalogue", cmd_ingest_catalogue, "run a catalogue file (YAML) as one resumable job")
    p.add_argument("file")
    add_ray_arguments(p)
    p = leaf(sub, "embed", cmd_embed, "compute the vector of a registered subject (or --all) in a space")
    p.add_argument("name", nargs="?", help="the subject (omit with --all)")
    p.add_argument("--space", action="append", required=True)
    p.add_argument("--kind", choices=["dataset", "model", "prompt"])
    p.add_argument(
        "--all", action="store_true", help="every subject (of --kind, passing --where) not yet in the space"
    )
    p.add_argument(
        "--where", action="append", default=[], metavar="KEY=VALUE", help="with --all: as in fute query"
    )
