"""File arguments of catalogues sent over HTTP: they may only name files under the allowed roots.

A catalogue posted to ``POST /jobs`` names sources the server will open (dataset files, model
folders, LLM folders, probe files). Over HTTP the caller is remote, so a path must resolve (``..``
collapsed, symlinks followed) inside one of ``Settings.allowed_roots`` (``FUTE_HTTP_ROOTS``);
packaged sources, references to registered datasets and endpoint URLs name no file and pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import HTTPException

# (section, key) pairs whose values are sources the job opens; "from" holds a list.
FILE_KEYS = (("datasets", "source"), ("models", "source"), ("prompts", "llm"), ("probe_sets", "from"))
NO_FILE_PREFIXES = ("pkg:", "dataset:", "http://", "https://")


def file_arguments(body: Any) -> Iterator[tuple[str, str]]:
    """Every source value of a catalogue body that names a file, with where it sits.

    Args:
        body: The JSON body as received (shape not yet validated: odd shapes yield nothing here and
            are refused by the catalogue validation that follows).

    Yields:
        (``section[i].key``, value) for each value that is not a packaged source, a dataset
        reference or a URL.
    """
    if not isinstance(body, dict):
        return
    for section, key in FILE_KEYS:
        entries = body.get(section)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            raw = entry.get(key) if isinstance(entry, dict) else None
            for value in raw if isinstance(raw, list) else [raw]:
                if value is not None and not str(value).startswith(NO_FILE_PREFIXES):
                    yield f"{section}[{i}].{key}", str(value)


def check_file_arguments(body: Any, roots: Sequence[Path]) -> None:
    """Refuse a catalogue body that names a file outside the allowed roots.

    Args:
        body: The JSON body of ``POST /jobs``.
        roots: Resolved allowed folders (``Settings.allowed_roots``).

    Raises:
        HTTPException: 403 naming the first offending entry and the fix.
    """
    for where, value in file_arguments(body):
        resolved = Path(value).resolve()  # follows symlinks and collapses "..": where it really is
        if not any(resolved.is_relative_to(root) for root in roots):
            allowed = ", ".join(str(r) for r in roots)
            fix = (
                f"put the file under one of: {allowed}"
                if roots
                else "this server reads no files: start it with FUTE_HTTP_ROOTS=DIR[:DIR...]"
            )
            raise HTTPException(403, f"{where} {value!r} is outside the folders this server may read; {fix}")
