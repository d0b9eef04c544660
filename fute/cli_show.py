"""How ``fute query ...`` prints an answer: the JSON as is, or a table for a person; notes (which space
the rule picked) go to stderr in both modes so that ``--json`` stays parseable.

Fused answers (``--space a,b``) show each result's rank per space beside the fused score, because raw
reciprocal-rank-fusion scores are near-ties (0.0318 ... 0.0310) that a person cannot read.
``--explain`` adds, in text mode too, the similarity per space and the provenance of every vector.
"""

from __future__ import annotations

import sys
from typing import Any

from fute.cli_common import print_json
from fute.cli_transfer import transfer_lines
from query.hints import empty_ranking_hint

MAX_VALUE = 48  # characters of one provenance value in text mode (hashes, paths)


def print_notes(answer: dict[str, Any]) -> None:
    """The answer's one-line notes on stderr (``note: space 'te' (the registry default; ...)``).

    Args:
        answer: A ``query_*`` answer.
    """
    note = answer.get("query", {}).get("space_note")
    if note:
        print(f"note: {note}", file=sys.stderr)


def show_answer(answer: dict[str, Any], as_json: bool) -> None:
    """Print a ranking answer.

    Args:
        answer: A ``query_*`` answer.
        as_json: Print the JSON (``--json``) instead of a table.
    """
    print_notes(answer)
    if as_json:
        print_json(answer)
        return
    for line in answer_lines(answer):
        print(line)


def answer_lines(answer: dict[str, Any]) -> list[str]:
    """The text form of an answer: header, one line per result, then explanations and warnings.

    Args:
        answer: A ``query_*`` answer.

    Returns:
        Lines without newlines.
    """
    query = answer["query"]
    fusion = query.get("fusion")
    head = f"space {answer['space']}: {query['type']} for {query['name']}"
    if fusion:
        head += f" (fused by reciprocal rank fusion: score = sum over spaces of 1/({fusion['rrf_k']} + rank))"
    lines = [head]
    for r in answer["results"]:
        tags = ",".join(f"{k}={'|'.join(v)}" for k, v in r["tags"].items())
        ranks = f"  {rank_text(r['ranks'], answer['space'])}" if "ranks" in r else ""
        lines.append(
            f"{r['rank']:>3}. {r['name']:<28} {r['kind']:<8} {r['score']:.4f}{ranks}  {tags}".rstrip()
        )
    if not answer["results"]:
        lines.append(f"  ({empty_ranking_hint(answer)})")
    if query.get("ranking", {}).get("mode") == "transfer":
        lines += transfer_lines(answer, explain="provenance" in query)
    if "provenance" in query:
        lines += explain_lines(answer)
    lines += [f"warning: {w}" for w in answer.get("warnings", [])]  # under the table, as --json has them
    return lines


def rank_text(ranks: dict[str, int], spaces: str) -> str:
    """``#1 text, #3 te`` (``- te``: not among that space's candidates read for fusion).

    Args:
        ranks: Rank per space of one result.
        spaces: The answer's comma-separated spaces, in order.

    Returns:
        The per-space ranks.
    """
    return ", ".join(f"#{ranks[s]} {s}" if s in ranks else f"- {s}" for s in spaces.split(","))


def plan_text(plan: dict[str, Any]) -> str:
    """One search plan as ``path over N of M vectors (reason)``, e.g. ``ivf nprobe 8 of 1000 lists``.

    Args:
        plan: One entry of the answer's ``query.search``.

    Returns:
        The text.
    """
    text = f"{plan['path']} in {plan['index']} of {plan['vectors']} vectors"
    if "allowed" in plan:
        text += f", {plan['allowed']} pass the filter"
    if "tag" in plan:
        text += f" (partition {plan['tag']})"
    if plan.get("reason"):
        text += f"; {plan['reason']}"
    return text


def explain_lines(answer: dict[str, Any]) -> list[str]:
    """``--explain`` in text mode: similarity per space and the provenance of every vector.

    Args:
        answer: A ``query_*`` answer made with ``explain``.

    Returns:
        Lines.
    """
    query = answer["query"]
    lines = ["", "why: cosine similarity per space, and how each vector was made"]
    for space, prov in query.get("provenance", {}).items():
        lines.append(f"  query {query['name']} in {space}: {provenance_text(prov)}")
    for space, plan in query.get("search", {}).items():
        lines.append(f"  search in {space}: {plan_text(plan)}")
    for r in answer["results"]:
        sims = ", ".join(f"{s}={v:.4f}" for s, v in r.get("similarity", {}).items())
        lines.append(f"  {r['rank']}. {r['name']}: similarity {sims}")
        for space, prov in (r.get("provenance") or {}).items():
            lines.append(f"       in {space}: {provenance_text(prov)}")
    return lines


def provenance_text(prov: dict[str, Any]) -> str:
    """One provenance dict as ``key=value`` pairs (scalars, sorted; long values shortened).

    Args:
        prov: A vector's provenance.

    Returns:
        One line (``none recorded`` when empty).
    """
    parts = []
    for key in sorted(prov):
        value = prov[key]
        if isinstance(value, dict | list):
            value = f"<{len(value)} entries>"
        text = str(value)
        parts.append(f"{key}={text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + '...'}")
    return ", ".join(parts) or "none recorded"
