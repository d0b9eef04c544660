"""Messages that point at a real next step when a query cannot answer (an unknown LLM, an empty
ranking). Kept apart from the ranking code so that wording changes touch no logic."""

from __future__ import annotations

from registry.api import Registry
from registry.subject_reads import llms_with_prompts

INGEST_HINT = {
    "models": "register one with `fute ingest model SOURCE --name NAME --space {space}`",
    "prompts": "register one with `fute ingest prompt --llm SOURCE --template TEXT --verbalizers JSON "
    "--name NAME --space {space}`",
    "sources": "register datasets with `fute ingest dataset SOURCE --name NAME --space {space}`",
    "similar": "embed more subjects with `fute embed NAME --space {space}`",
}
NOUN = {"models": "model", "prompts": "prompt", "sources": "other dataset", "similar": "other subject"}


def unknown_llm_message(reg: Registry, llm: str) -> str:
    """Why ``--llm NAME`` selects no prompt, with the LLMs that do have prompts.

    Args:
        reg: The registry.
        llm: The ``--llm`` value.

    Returns:
        One line naming the problem and the fix.
    """
    names = llms_with_prompts(reg)
    if not names:
        return (
            f"--llm {llm!r}: no prompt is registered yet; add one with "
            "`fute ingest prompt --llm SOURCE --template TEXT --verbalizers JSON --name NAME`"
        )
    return (
        f"--llm {llm!r}: no prompts run on an LLM of that name; LLMs with prompts: {', '.join(sorted(names))}"
    )


def empty_ranking_hint(answer: dict[str, object]) -> str:
    """What an empty ranking means and what to do next.

    Args:
        answer: A ``query_*`` answer with no results.

    Returns:
        One line for the user.
    """
    query = answer.get("query")
    kind = str(query.get("type", "")) if isinstance(query, dict) else ""
    where = query.get("where") if isinstance(query, dict) else None
    space = str(answer.get("space", "S"))
    if where:
        return "no entry passes the --where filters; relax them"
    if kind in NOUN:
        first = space.split(",")[0]
        return f"no {NOUN[kind]} has a vector in space {space!r} yet; {INGEST_HINT[kind].format(space=first)}"
    return "no entry to rank"
