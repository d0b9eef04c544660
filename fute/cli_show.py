"""How ``fute query ...`` prints an answer: the JSON as is, or a table for a person; notes (which space
the rule picked) go to stderr in both modes so that ``--json`` stays parseable."""

from __future__ import annotations

import sys
from typing import Any

from fute.cli_common import print_json
from query.hints import empty_ranking_hint


def print_notes(answer: dict[str, Any]) -> None:
    """The answer's one-line notes on stderr (``note: space 'te' (the registry default; ...)``).

    Args:
        answer: A ``query_*`` answer.
    """
    note = answer.get("query", {}).get("space_note")
    if note:
        print(f"note: {note}", file=sys.stderr)


def show_answer(
    answer: dict[str, Any], as_json: bool, empty_hint: str = "no entry passes the filters"
) -> None:
    """Print a ranking answer.

    Args:
        answer: A ``query_*`` answer.
        as_json: Print the JSON (``--json``) instead of a table.
    """
    print_notes(answer)
    if as_json:
        print_json(answer)
        return
    query = answer["query"]
    print(f"space {answer['space']}: {query['type']} for {query['name']}")
    for r in answer["results"]:
        tags = ",".join(f"{k}={'|'.join(v)}" for k, v in r["tags"].items())
        print(f"{r['rank']:>3}. {r['name']:<28} {r['kind']:<8} {r['score']:.4f}  {tags}")
    if not answer["results"]:
        print(f"  ({empty_ranking_hint(answer)})")
