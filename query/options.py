"""The options every query takes and the two rules shared by the query modules: ``--where``
parsing and space resolution.

Kept apart from ``query.service`` so that modules beside it (``taskmap``, ``evaluate``) import
these without importing the service, which imports them: no import loop in ``query/``.

``--where`` filters (resolved in SQL before the vector search):
``kind=dataset|model|prompt`` (repeatable: any of them), ``format=F`` (repeatable),
``created_after=ISO-TIME``, ``created_before=ISO-TIME``, ``any:KEY=VALUE`` (at least one of these
tags), and any other ``KEY=VALUE`` (a tag that must be present; repeat for several).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from numbers import Integral

from query.space_choice import choose_spaces
from query.transfer_query import TransferOptions
from registry.api import Registry
from registry.errors import InvalidDataError
from registry.filters import SearchFilter

__all__ = ["MAX_K", "QueryOptions", "check_k", "parse_where", "resolve_spaces"]
MAX_K = 100


@dataclass(frozen=True)
class QueryOptions:
    """Options shared by every query.

    Attributes:
        k: Results wanted (1..100); fewer only when fewer entries pass the filters.
        spaces: Spaces to search; several are fused by reciprocal rank fusion; empty = the default.
        where: ``(key, value)`` filters (see the module docstring).
        explain: Add the provenance of the query's and each result's vector.
        rrf_k: The constant of reciprocal rank fusion, score = sum over spaces of 1 / (rrf_k + rank).
        transfer: How ``query_sources`` uses recorded transfer results (``query.transfer_query``).
    """

    k: int = 5
    spaces: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()
    explain: bool = False
    rrf_k: int = 60
    transfer: TransferOptions = field(default_factory=TransferOptions)

    def __post_init__(self) -> None:
        """Check the integer options' types and ranges (the CLI and HTTP bound them too).

        Raises:
            InvalidDataError: ``k`` is not an integer in 1..MAX_K or ``rrf_k`` not an integer >= 1.
        """
        _check_int("k", self.k, 1, MAX_K)
        _check_int("rrf_k", self.rrf_k, 1, None)


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    """Refuse a non-integer (a bool included) or an integer outside ``low..high``.

    Args:
        name: The option's name, for the message.
        value: The value given.
        low: The smallest allowed value.
        high: The largest allowed value; ``None`` for no upper bound.

    Raises:
        InvalidDataError: The value is not an integer or is out of range.
    """
    wanted = f"between {low} and {high}" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidDataError(f"{name} must be an integer {wanted}, got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        raise InvalidDataError(f"{name} must be {wanted}, got {value}")


def check_k(opts: QueryOptions) -> None:
    """Refuse ``k`` outside 1..MAX_K at query time (the query's own guard beside the options').

    Args:
        opts: The query's options.

    Raises:
        InvalidDataError: ``k`` is out of range.
    """
    if not 1 <= opts.k <= MAX_K:
        raise InvalidDataError(f"k must be between 1 and {MAX_K}, got {opts.k}")


def parse_where(where: tuple[tuple[str, str], ...]) -> SearchFilter:
    """Turn ``--where`` pairs into a SQL-side filter.

    Args:
        where: ``(key, value)`` pairs (see the module docstring).

    Returns:
        The filter; empty fields where no pair asked for them.

    Raises:
        InvalidDataError: A bad kind or time.
    """
    kinds, formats, tags_all, tags_any = [], [], [], []
    after = before = None
    for key, value in where:
        if key == "kind":
            if value not in ("dataset", "model", "prompt"):
                raise InvalidDataError(f"--where kind={value!r}: choose dataset, model or prompt")
            kinds.append(value)
        elif key == "format":
            formats.append(value)
        elif key in ("created_after", "created_before"):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError as exc:
                raise InvalidDataError(
                    f"--where {key}={value!r} is not an ISO time (2026-01-31T12:00)"
                ) from exc
            after, before = (moment, before) if key == "created_after" else (after, moment)
        elif key.startswith("any:"):
            tags_any.append((key[4:], value))
        else:
            tags_all.append((key, value))
    return SearchFilter(
        kinds=tuple(kinds),
        tags_all=tuple(tags_all),
        tags_any=tuple(tags_any),
        formats=tuple(formats),
        created_after=after,
        created_before=before,
    )


def resolve_spaces(reg: Registry, opts: QueryOptions) -> list[str]:
    """The spaces of a query by the one rule of ``query.space_choice`` (named, stored default,
    ``FUTE_DEFAULT_SPACE``, the only space, the space with the most vectors).

    Args:
        reg: The registry.
        opts: The query's options (``spaces``).

    Returns:
        Space names, in the order given.

    Raises:
        SpaceNotFoundError: A named space does not exist.
        ConfigError: No space exists.
    """
    return list(choose_spaces(reg, opts.spaces).names)
